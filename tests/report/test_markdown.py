"""The Markdown summary escapes log text and masks secrets."""

from __future__ import annotations

from llmaudit.report.markdown import md_escape


def test_markup_and_html_are_inert() -> None:
    escaped = md_escape("<img src=x onerror=alert(1)> [click](http://evil) **bold** | pipe")
    assert "<" not in escaped.replace("\\<", "")
    assert "\\[click\\]\\(http://evil\\)" in escaped.replace("\\:", ":")
    assert "\\|" in escaped


def test_secrets_are_masked() -> None:
    assert "sk-" not in md_escape("key sk-proj-ABCDEFGHIJKLMNOPQRSTUV used")
    assert "Bearer" not in md_escape("Authorization: Bearer abc.def.ghi")
