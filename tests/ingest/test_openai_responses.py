"""The OpenAI Responses reader: bare objects, pairs, stream events, incomplete and failed responses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from llmaudit.ingest.container import sample
from llmaudit.ingest.openai_responses import OpenAIResponsesReader
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records, read_each

LOG = ASSETS / "openai_responses" / "responses.jsonl"


@pytest.fixture(scope="module")
def parsed() -> list[Parsed]:
    return read_each(LOG, "openai_responses")


def test_bare_response_cached_and_reasoning_are_subsets(parsed: list[Parsed]) -> None:
    record = parsed[0]
    assert isinstance(record, RequestRecord)
    assert record.request_id == "resp_68af1c2e5a7c8190a1b2c3d4e5f60718"
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens, record.reasoning_tokens) == (2048, 1920, 350, 256)
    assert (record.provider, record.endpoint, record.model) == ("openai", "responses", "gpt-5-2025-08-07")
    assert record.ts == datetime.fromtimestamp(1756306478, UTC)
    # `instructions` is the system prompt; a bare response carries no `input`.
    assert [(m.role, m.kind) for m in record.messages] == [("system", "text")]
    assert record.output_text == "The diff looks correct; add a test for the empty case."
    assert (record.finish_reason, record.user_id, record.metadata) == ("stop", "dev_17", {"feature": "code-review"})
    assert len(record.tools) == 1


def test_pair_reads_input_items_in_order(parsed: list[Parsed]) -> None:
    record = parsed[1]
    assert isinstance(record, RequestRecord)
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens, record.reasoning_tokens) == (3310, 3072, 612, 576)
    assert record.messages == [
        Message("system", "You are a coding assistant for the Acme monorepo. Follow the style guide."),
        Message("user", "Fix the failing test in pkg/cart"),
        Message("assistant", 'run_tests({"path":"pkg/cart"})', "tool_call"),
        Message("tool", "FAILED test_total - assert 9 == 10", "tool_result"),
        Message("assistant", "Off-by-one in total.", "thinking"),
    ]
    assert (record.finish_reason, record.output_text) == ("tool_calls", 'run_tests({"path":"pkg/cart"})')
    assert record.ts == datetime(2025, 8, 27, 14, 58, 20, tzinfo=UTC)
    assert (record.latency_ms, record.max_tokens, record.model) == (4210.0, 2000, "gpt-5-mini-2025-08-07")
    assert record.metadata == {"tag:repo:acme": "true"}


def test_incomplete_response_is_billed_and_marked_as_truncated(parsed: list[Parsed]) -> None:
    record = parsed[2]
    assert isinstance(record, RequestRecord)
    assert (record.status, record.finish_reason, record.service_tier) == ("ok", "length", "flex")
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (900, 500, 500)


def test_failed_response_is_an_error_with_zero_tokens(parsed: list[Parsed]) -> None:
    record = parsed[3]
    assert isinstance(record, RequestRecord)
    assert (record.status, record.error_type, record.input_tokens, record.output_tokens) == ("error", "server_error", 0, 0)


def test_completed_stream_event_is_unwrapped(parsed: list[Parsed]) -> None:
    record = parsed[4]
    assert isinstance(record, RequestRecord)
    assert (record.request_id, record.input_tokens, record.output_tokens, record.output_text) == ("resp_68af2001", 150, 3, "Done.")


def test_unfinished_and_usage_less_responses_are_rejected(parsed: list[Parsed]) -> None:
    assert parsed[5] == Rejection(6, "response status is in_progress: no final usage was logged")
    assert parsed[6] == Rejection(7, "missing usage: cannot price")
    assert len(parsed) == 7


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        SHARED_DATA / "litellm" / "standard_logging_payload.json",
        ASSETS / "openai_chat" / "chat_logs.jsonl",
        ASSETS / "openai_chat" / "bare_completions.json",
        ASSETS / "gemini" / "gemini_logs.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert OpenAIResponsesReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(asset_records(LOG)))
def test_junk_in_any_field_never_raises(raw: dict) -> None:
    outputs = list(OpenAIResponsesReader().parse(iter([(1, raw)])))
    assert len(outputs) == 1
