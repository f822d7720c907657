"""The Anthropic Messages reader: cache tokens outside input_tokens, 1 h writes, streams, errors, bad lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from llmaudit.ingest.anthropic_messages import AnthropicMessagesReader
from llmaudit.ingest.container import sample
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records, read_each

HERE = ASSETS / "anthropic_messages"


@pytest.fixture(scope="module")
def logs() -> list[Parsed]:
    return read_each(HERE / "messages.jsonl", "anthropic_messages")


def _request(logs: list[Parsed], index: int) -> RequestRecord:
    record = logs[index]
    assert isinstance(record, RequestRecord), record
    return record


def test_cache_writes_are_added_to_input_and_1h_writes_kept_apart(logs: list[Parsed]) -> None:
    record = _request(logs, 0)
    # usage.input_tokens 21 excludes the cache: 21 + 0 read + 4,200 written (200 at 5 min, 4,000 at 1 h)
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (21 + 4_200, 0, 4_200)
    assert (record.cache_write_1h_tokens, record.output_tokens) == (4_000, 310)
    assert (record.provider, record.endpoint, record.model) == ("anthropic", "messages", "claude-sonnet-4-5-20250929")
    assert record.request_id == "msg_01AcmeTurn1"
    assert (record.ts, record.latency_ms) == (datetime(2025, 9, 1, 10, tzinfo=UTC), 1840.0)
    assert (record.feature, record.team) == (None, None)  # derived from metadata later, by the table builder
    assert record.metadata == {"feature": "support-bot", "team": "cx", "cache_breakpoints": "3"}
    assert record.messages[0].role == "system" and record.messages[0].text.startswith("You are Acme's")
    assert record.messages[1] == Message("user", "Can I still return order A-1009?")
    assert len(record.tools) == 1 and "cache_control" not in record.tools[0] and '"input_schema"' in record.tools[0]
    assert (record.finish_reason, record.service_tier, record.is_batch) == ("tool_calls", "standard", False)
    assert record.output_text == 'Let me look that order up.\nlookup_order({"order_id":"A-1009"})'


def test_cache_reads_are_added_and_every_block_kind_is_read(logs: list[Parsed]) -> None:
    record = _request(logs, 1)
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (35 + 4_200 + 260, 4_200, 260)
    assert (record.cache_write_1h_tokens, record.output_tokens) == (0, 180)
    assert [(m.role, m.kind) for m in record.messages] == [
        ("system", "text"), ("user", "text"), ("user", "image"), ("assistant", "thinking"), ("assistant", "text"),
        ("assistant", "tool_call"), ("tool", "tool_result"),
    ]
    assert record.messages[-1].text == '{"delivered":"2025-08-20"}'
    assert (record.user_id, record.temperature, record.max_tokens) == ("user-42", 1.0, 4096)
    assert (record.metadata["thinking"], record.metadata["thinking_budget_tokens"]) == ("enabled", "2048")
    # Thinking is billed inside output_tokens but is not the visible output.
    assert (record.finish_reason, record.output_text) == ("stop", "Yes: it was delivered 12 days ago, so a refund applies.")


def test_string_bodies_and_streamed_events(logs: list[Parsed]) -> None:
    record = _request(logs, 2)
    assert record.request_id == "msg_01AcmeStream"  # the provider's id wins over the logger's
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (12 + 1_024, 1_024, 57)
    assert (record.stream, record.finish_reason, record.user_id) == (True, "length", "user-7")
    assert record.output_text == 'Order A-1009 ships Monday.\nnotify({"channel":"email"})'
    assert record.messages == [Message("system", "Be brief."), Message("user", "When does A-1009 ship?")]
    assert record.ts == datetime(2025, 9, 1, 10, 5, tzinfo=UTC)


def test_error_response_is_an_unbilled_error_request(logs: list[Parsed]) -> None:
    record = _request(logs, 3)
    assert (record.status, record.error_type, record.input_tokens, record.output_tokens) == ("error", "overloaded_error", 0, 0)
    assert record.model == "claude-opus-4-1-20250805"
    assert record.messages == [Message("user", "Summarise the refund policy.")]


def test_bare_message_object(logs: list[Parsed]) -> None:
    record = _request(logs, 4)
    assert (record.request_id, record.input_tokens, record.output_tokens, record.messages) == ("msg_01AcmeBare", 900, 4, [])
    assert (record.service_tier, record.is_batch, record.output_text) == ("priority", False, "Done.")


def test_missing_usage_and_malformed_lines_are_rejected(logs: list[Parsed]) -> None:
    assert logs[5] == Rejection(6, "missing usage: cannot price")
    assert isinstance(logs[6], Rejection) and logs[6].line == 7 and "invalid JSON" in logs[6].reason
    assert logs[8] == Rejection(9, "missing response: cannot price (the log has the request only)")
    assert logs[9] == Rejection(10, "usage.cache_read_input_tokens is negative: -5")
    assert len(logs) == 10


def test_http_envelope_and_batch_tier(logs: list[Parsed]) -> None:
    record = _request(logs, 7)
    assert (record.request_id, record.input_tokens, record.output_tokens) == ("msg_01Envelope", 30, 2)
    assert (record.service_tier, record.is_batch) == ("batch", True)


def test_json_document_of_bare_messages() -> None:
    out = read_each(HERE / "bare_messages.json", "anthropic_messages")
    assert [o.input_tokens for o in out if isinstance(o, RequestRecord)] == [48, 51, 0]
    last = out[2]
    assert isinstance(last, RequestRecord) and (last.status, last.error_type) == ("error", "rate_limit_error")


def test_thinking_tokens_detail_and_split_only_cache_creation() -> None:
    raw = {
        "id": "msg_x", "type": "message", "role": "assistant", "model": "claude-opus-4-8", "content": [],
        "usage": {
            "input_tokens": 5, "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
            "output_tokens": 300, "output_tokens_details": {"thinking_tokens": 250}, "inference_geo": "us",
        },
    }
    (out,) = AnthropicMessagesReader().parse(iter([(1, raw)]))
    assert isinstance(out, RequestRecord)
    assert (out.input_tokens, out.cache_write_tokens, out.cache_write_1h_tokens) == (35, 30, 20)
    assert (out.output_tokens, out.reasoning_tokens, out.inference_geo) == (300, 250, "us")


def test_web_search_requests_are_read_from_server_tool_use() -> None:
    raw = {"id": "msg_w", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
           "usage": {"input_tokens": 10_000, "output_tokens": 1_000, "server_tool_use": {"web_search_requests": 5}}}
    (out,) = AnthropicMessagesReader().parse(iter([(1, raw)]))
    assert isinstance(out, RequestRecord)
    assert (out.web_search_requests, out.metadata["server_tool_use.web_search_requests"]) == (5, "5")
    raw["usage"]["server_tool_use"] = {"web_search_requests": -1}
    (bad,) = AnthropicMessagesReader().parse(iter([(2, raw)]))
    assert isinstance(bad, Rejection) and "web_search_requests" in bad.reason


def test_1h_writes_above_all_writes_are_rejected() -> None:
    raw = {"type": "message", "role": "assistant", "content": [], "usage": {
        "input_tokens": 5, "cache_creation_input_tokens": 10, "cache_creation": {"ephemeral_1h_input_tokens": 20}}}
    (out,) = AnthropicMessagesReader().parse(iter([(3, raw)]))
    assert out == Rejection(3, "ephemeral_1h_input_tokens 20 exceed cache_creation_input_tokens 10")


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        SHARED_DATA / "litellm" / "spend_logs_payload.json",
        SHARED_DATA / "litellm" / "standard_logging_payload.json",
        SHARED_DATA / "claude_code" / "short.jsonl",
        ASSETS / "openai_chat" / "chat_logs.jsonl",
        ASSETS / "bedrock" / "invocations.jsonl",
        ASSETS / "gemini" / "gemini_logs.jsonl",
        ASSETS / "anthropic_batch" / "results.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert AnthropicMessagesReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(asset_records(HERE / "messages.jsonl") + asset_records(HERE / "bare_messages.json")))
def test_junk_in_any_field_never_raises(raw: dict) -> None:
    outputs = list(AnthropicMessagesReader().parse(iter([(1, raw)])))
    assert len(outputs) == 1


def test_settings_that_change_the_answer_are_kept() -> None:
    from llmaudit.ingest.anthropic_common import apply_request

    record = RequestRecord(source_line=1)
    apply_request(record, {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [],
                           "stop_sequences": ["</answer>"], "thinking": {"type": "enabled", "budget_tokens": 2048}})
    assert record.output_params == \
        '{"stop_sequences":["</answer>"],"thinking":{"budget_tokens":2048,"type":"enabled"}}'
