"""The Markdown summary escapes log text and masks secrets."""

from __future__ import annotations

from llmaudit.report.markdown import md_escape
from llmaudit.report.terminal import reconciliation, row_cost
from llmaudit.result import BreakdownRow, IngestSummary


def test_markup_and_html_are_inert() -> None:
    escaped = md_escape("<img src=x onerror=alert(1)> [click](http://evil) **bold** | pipe")
    assert "<" not in escaped.replace("\\<", "")
    assert "\\[click\\]\\(http:&#8203;//evil\\)" in escaped
    assert "\\|" in escaped


def test_mentions_and_bare_addresses_stay_plain_text() -> None:
    escaped = md_escape("ask @octocat or mail ops@acme.example, see https://evil.example and WWW.evil.example")
    assert escaped == ("ask @&#8203;octocat or mail ops@&#8203;acme.example, see https:&#8203;//evil.example and "
                       "WWW&#8203;.evil.example")


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


def test_joined_request_halves_are_not_called_copies() -> None:
    def ingest(duplicates: int, merged: int) -> IngestSummary:
        return IngestSummary(records_read=1000 + duplicates + 2, requests=1000, duplicates=duplicates, rejected=2,
                             skipped=0, rejects=[], skipped_reasons={}, files=[], unrecognised_files=[],
                             merged_halves=merged)

    assert reconciliation(ingest(0, 0)) == "1,002 records read = 1,000 analysed + 0 duplicates + 2 rejected"
    assert reconciliation(ingest(1000, 1000)) == \
        "2,002 records read = 1,000 analysed + 1,000 request halves joined to their other half + 2 rejected"
    assert reconciliation(ingest(1003, 1000)) == ("2,005 records read = 1,000 analysed + 1,003 duplicates"
                                                  " (1,000 of them request halves joined to their other half) + 2 rejected")


def test_pricing_notes_and_the_logged_cost_check_are_in_the_markdown(tmp_path) -> None:
    from llmaudit.audit import run_audit
    from llmaudit.config import AuditConfig
    from llmaudit.report.markdown import render_markdown
    from tests.conftest import ASSETS

    log = tmp_path / "priority.jsonl"
    log.write_text('{"request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},'
                   ' "response": {"id": "c1", "object": "chat.completion", "created": 1757000000, "model": "gpt-4o-mini",'
                   ' "service_tier": "priority", "choices": [{"index": 0, "message": {"role": "assistant", "content": "yo"},'
                   ' "finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 2}}}\n')
    text = render_markdown(run_audit(AuditConfig(inputs=(str(log),))))
    assert "Pricing note: priority tier priced at standard rates" in text
    litellm = render_markdown(run_audit(AuditConfig(inputs=(str(ASSETS / "litellm"),))))
    assert "Logged cost $" in litellm and "differ by more than 1%" in litellm
