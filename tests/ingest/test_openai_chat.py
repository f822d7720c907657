"""The OpenAI chat reader: request/response pairs, bare completions, errors and bad lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from llmaudit.ingest.container import sample
from llmaudit.ingest.openai_chat import OpenAIChatReader
from llmaudit.ingest.records import Rejection, RequestRecord
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records, read_each

HERE = ASSETS / "openai_chat"


def test_pairs_give_canonical_tokens_and_envelope_metadata() -> None:
    out = read_each(HERE / "chat_logs.jsonl", "openai_chat")
    assert [o.line if isinstance(o, Rejection) else o.source_line for o in out] == [1, 2, 3, 4, 5, 6, 7]
    cached = out[0]
    assert isinstance(cached, RequestRecord)
    assert cached.request_id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert (cached.input_tokens, cached.cache_read_tokens, cached.output_tokens, cached.reasoning_tokens) == (1530, 1152, 210, 0)
    assert cached.ts == datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)  # the logger's time wins over `created`
    assert cached.latency_ms == 812.4
    assert (cached.user_id, cached.feature, cached.provider, cached.endpoint) == ("u_4821", "support-bot", "openai", "chat")
    assert cached.metadata == {"team": "cx", "env": "prod", "prompt_version": "v7", "tag:tier:gold": "true"}
    assert [m.role for m in cached.messages] == ["system", "user"]
    assert (cached.temperature, cached.max_tokens, cached.service_tier) == (0.2, 512, "default")


def test_reasoning_stays_inside_output_and_tool_calls_are_read() -> None:
    record = read_each(HERE / "chat_logs.jsonl", "openai_chat")[1]
    assert isinstance(record, RequestRecord)
    assert record.model == "o3-mini-2025-01-31"  # the served snapshot, not the requested alias
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (420, 1380, 1152)
    assert record.finish_reason == "tool_calls"
    assert record.output_text == 'lookup_order({"order_id":"A-10293"})'
    assert record.max_tokens == 4000 and len(record.tools) == 1
    assert record.metadata == {"feature": "refund-agent"}
    assert [m.role for m in record.messages] == ["developer", "user"]


def test_audio_tokens_are_read_as_parts_of_input_and_output() -> None:
    from llmaudit.ingest.openai_common import apply_chat_usage

    record = RequestRecord(source_line=1)
    apply_chat_usage(record, {"prompt_tokens": 900, "completion_tokens": 400,
                              "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 700},
                              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 350}})
    assert (record.input_tokens, record.audio_input_tokens, record.output_tokens, record.audio_output_tokens) == \
        (900, 700, 400, 350)


def test_error_response_is_an_error_request_with_zero_tokens() -> None:
    record = read_each(HERE / "chat_logs.jsonl", "openai_chat")[2]
    assert isinstance(record, RequestRecord)
    assert (record.status, record.error_type) == ("error", "rate_limit_exceeded")
    assert (record.input_tokens, record.output_tokens) == (0, 0)
    assert record.model == "gpt-4o-2024-08-06"


def test_bodies_logged_as_json_text() -> None:
    record = read_each(HERE / "chat_logs.jsonl", "openai_chat")[3]
    assert isinstance(record, RequestRecord)
    assert (record.request_id, record.input_tokens, record.output_tokens) == ("chatcmpl-B9MFa2mWq8zLr5eT1oYc3HnP0dXsV", 88, 9)
    assert (record.user_id, record.latency_ms, record.stream) == ("u_77", 640.0, False)
    assert record.ts == datetime.fromtimestamp(1741944700, UTC)


def test_bad_lines_are_rejected_with_actionable_reasons() -> None:
    out = read_each(HERE / "chat_logs.jsonl", "openai_chat")
    assert isinstance(out[4], Rejection) and "invalid JSON" in out[4].reason
    assert out[5] == Rejection(6, "missing usage: cannot price")
    assert out[6] == Rejection(7, "prompt_tokens is negative: -5")


def test_bare_completions_in_a_json_array() -> None:
    first, second = read_each(HERE / "bare_completions.json", "openai_chat")
    assert isinstance(first, RequestRecord) and isinstance(second, RequestRecord)
    assert (first.input_tokens, first.cache_read_tokens, first.output_tokens) == (2304, 2048, 3)
    assert (first.service_tier, first.messages) == ("flex", [])
    assert (second.finish_reason, second.output_tokens, second.source_line) == ("length", 16, 27)  # the line it starts on


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "openai_batch" / "batch-input-expansion.jsonl",
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        SHARED_DATA / "litellm" / "spend_logs_payload.json",
        SHARED_DATA / "litellm" / "standard_logging_payload.json",
        ASSETS / "openai_responses" / "responses.jsonl",
        ASSETS / "gemini" / "gemini_logs.jsonl",
        ASSETS / "bedrock" / "invocations.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert OpenAIChatReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


def test_helicone_style_rows_are_not_claimed(tmp_path: Path) -> None:
    row = (
        '{"request_id": "b1", "request_created_at": "2025-03-01T00:00:00Z", "request_path": "/v1/chat/completions",'
        ' "request_body": {"model": "gpt-4o", "messages": []}, "response_status": 200,'
        ' "response_body": {"object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 1}}}\n'
    )
    path = tmp_path / "helicone.jsonl"
    path.write_text(row)
    assert OpenAIChatReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(asset_records(HERE / "chat_logs.jsonl") + asset_records(HERE / "bare_completions.json")
                       + asset_records(HERE / "streamed.jsonl")))
def test_junk_in_any_field_never_raises(raw: dict) -> None:
    outputs = list(OpenAIChatReader().parse(iter([(1, raw)])))
    assert len(outputs) == 1


def test_streamed_responses_kept_as_chunks_are_joined() -> None:
    """A proxy that logs a stream keeps its chunks (a list, or the events' text): one request, the usage of the
    last chunk (stream_options.include_usage), the text and tool calls joined from the deltas."""
    text, tool, sse, bare = read_each(HERE / "streamed.jsonl", "openai_chat")
    assert isinstance(text, RequestRecord) and isinstance(tool, RequestRecord) and isinstance(sse, RequestRecord)
    assert (text.request_id, text.model, text.stream) == ("chatcmpl-CStream7f3kQ9wLx2mB", "gpt-4o-mini-2024-07-18", True)
    assert (text.input_tokens, text.cache_read_tokens, text.output_tokens) == (1200, 1024, 40)
    assert (text.output_text, text.finish_reason, text.service_tier) == ("Your order ships today.", "stop", "default")
    assert (tool.output_text, tool.finish_reason) == ('get_order({"order_id": "A-17"})', "tool_calls")
    assert (tool.input_tokens, tool.output_tokens) == (300, 18)
    assert (sse.output_text, sse.input_tokens, sse.stream) == ("Your order ships today.", 1200, True)
    assert bare == Rejection(4, "streamed response without usage (the request did not set"
                                " stream_options.include_usage): cannot price")


def test_settings_that_change_the_answer_are_kept() -> None:
    from llmaudit.ingest.openai_common import apply_chat_request

    record = RequestRecord(source_line=1)
    apply_chat_request(record, {"model": "gpt-4o", "messages": [], "temperature": 0, "n": 3, "stop": ["END"],
                                "response_format": {"type": "json_object"}, "reasoning_effort": None})
    assert record.output_params == '{"n":3,"response_format":{"type":"json_object"},"stop":["END"]}'
    plain = RequestRecord(source_line=2)
    apply_chat_request(plain, {"model": "gpt-4o", "messages": [], "temperature": 0, "max_tokens": 10})
    assert plain.output_params is None


def test_a_malformed_chunk_costs_its_record_alone() -> None:
    """Junk inside a stream (choices: 5, tool_calls: 7) never stops the detection of the whole file."""
    from llmaudit.ingest.openai_chat import is_chat_record

    chunks = [{"object": "chat.completion.chunk", "id": "chatcmpl-x", "model": "gpt-4o", "choices": 5},
              {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": 7}}]},
              {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}]
    raw = {"request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, "response": chunks}
    assert is_chat_record(raw)
    (record,) = OpenAIChatReader().parse(iter([(1, raw)]))
    assert isinstance(record, RequestRecord) and (record.input_tokens, record.output_tokens) == (5, 1)
