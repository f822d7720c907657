"""The Markdown summary escapes log text and masks secrets."""

from __future__ import annotations

from llmaudit.report.markdown import md_escape
from llmaudit.report.terminal import row_cost
from llmaudit.result import BreakdownRow


def test_markup_and_html_are_inert() -> None:
    escaped = md_escape("<img src=x onerror=alert(1)> [click](http://evil) **bold** | pipe")
    assert "<" not in escaped.replace("\\<", "")
    assert "\\[click\\]\\(http://evil\\)" in escaped.replace("\\:", ":")
    assert "\\|" in escaped


def test_secrets_are_masked() -> None:
    assert "sk-" not in md_escape("key sk-proj-ABCDEFGHIJKLMNOPQRSTUV used")
    assert "Bearer" not in md_escape("Authorization: Bearer abc.def.ghi")


def test_a_model_without_a_price_never_reads_as_free() -> None:
    def row(unpriced: int) -> BreakdownRow:
        return BreakdownRow(key="acme-llama", requests=4, cost_usd=0.5 if unpriced < 4 else 0.0, share=1.0,
                            input_tokens=10, output_tokens=5, failed_requests=0, unpriced_requests=unpriced)

    assert row_cost(row(4)) == "not priced"
    assert row_cost(row(1)) == "$0.5000 + 1 not priced"
    assert row_cost(row(0)) == "$0.5000"
