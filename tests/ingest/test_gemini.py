"""The Gemini reader: thoughts outside candidates, tool-use prompts, streams, Vertex rows and batch lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from llmaudit.ingest.container import sample
from llmaudit.ingest.gemini import GeminiReader
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records, read_each

HERE = ASSETS / "gemini"


@pytest.fixture(scope="module")
def logs() -> list[Parsed]:
    return read_each(HERE / "gemini_logs.jsonl", "gemini")


def test_thoughts_are_added_to_candidates_and_cached_stays_inside_prompt(logs: list[Parsed]) -> None:
    record = logs[0]
    assert isinstance(record, RequestRecord)
    # output = candidates 310 + thoughts 1200; input = prompt 5230 (cached 4096 already inside)
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens, record.reasoning_tokens) == (5230, 4096, 1510, 1200)
    assert (record.provider, record.endpoint, record.model) == ("google", "generate_content", "gemini-2.5-flash")
    assert record.request_id == "mK09aKuZN4-vnvgPx6-w4AQ"
    assert record.ts == datetime(2025, 6, 2, 10, 15, tzinfo=UTC)
    assert [m.role for m in record.messages] == ["system", "user"]
    assert (record.temperature, record.top_p, record.max_tokens) == (0.2, 0.95, 4096)
    assert (record.finish_reason, record.output_text) == ("stop", "Day 1: Alfama and the castle...")


def test_tool_use_prompt_tokens_are_input(logs: list[Parsed]) -> None:
    record = logs[1]
    assert isinstance(record, RequestRecord)
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens, record.reasoning_tokens) == (120 + 640, 0, 95, 0)
    assert (record.messages, record.ts) == ([], None)


def test_malformed_line_is_rejected(logs: list[Parsed]) -> None:
    assert isinstance(logs[2], Rejection) and logs[2].line == 3 and "invalid JSON" in logs[2].reason


def test_function_calling_parts(logs: list[Parsed]) -> None:
    record = logs[3]
    assert isinstance(record, RequestRecord)
    assert record.messages == [
        Message("user", "What's the weather in Porto tomorrow?"),
        Message("assistant", 'get_forecast({"city":"Porto","days":1})', "tool_call"),
        Message("tool", '{"high_c":21,"rain":0.1}', "tool_result"),
        Message("user", "And Faro?"),
        Message("user", "[image 9b082b7d16dd0758]", "image"),  # a digest of its data: two images never match
    ]
    assert len(record.tools) == 1 and '"name":"get_forecast"' in record.tools[0]
    assert (record.finish_reason, record.output_text) == ("tool_calls", 'get_forecast({"city":"Faro","days":1})')
    assert record.ts == datetime(2025, 6, 2, 10, 17, 31, 512345, tzinfo=UTC)
    assert (record.input_tokens, record.output_tokens) == (210, 18)


def test_error_response_has_zero_tokens(logs: list[Parsed]) -> None:
    record = logs[4]
    assert isinstance(record, RequestRecord)
    assert (record.status, record.error_type, record.input_tokens, record.output_tokens) == ("error", "RESOURCE_EXHAUSTED", 0, 0)


def test_missing_usage_is_rejected(logs: list[Parsed]) -> None:
    assert logs[5] == Rejection(6, "missing usageMetadata: cannot price")


def test_stream_chunks_take_the_last_usage(logs: list[Parsed]) -> None:
    record = logs[6]
    assert isinstance(record, RequestRecord)
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (9, 17 + 480, 480)
    assert record.output_text == "Warm keys wait in rows, the second ask costs nothing"
    assert (record.stream, record.finish_reason, record.request_id) == (True, "length", "stream-1")
    assert len(logs) == 7


def test_vertex_request_response_logging_rows() -> None:
    gemini, claude = read_each(HERE / "vertex_request_response.jsonl", "gemini")
    assert isinstance(gemini, RequestRecord)
    assert (gemini.model, gemini.request_id, gemini.input_tokens, gemini.output_tokens) == (
        "gemini-2.0-flash-001", "AeM-aNq3L6mKnvgPiKe1uQw", 11, 3,
    )
    assert gemini.ts == datetime(2025, 6, 3, 8, 0, 1, 123456, tzinfo=UTC)
    assert gemini.metadata == {"team": "growth", "feature": "translate", "traffic_type": "ON_DEMAND"}
    assert (gemini.stream, gemini.temperature) == (None, 0.0)
    assert isinstance(claude, Rejection) and "rawPredict" in claude.reason


def test_batch_output_lines_are_batch_requests() -> None:
    ok, failed = read_each(HERE / "gemini_batch_output.jsonl", "gemini")
    assert isinstance(ok, RequestRecord) and isinstance(failed, RequestRecord)
    assert (ok.is_batch, ok.input_tokens, ok.output_tokens, ok.reasoning_tokens) == (True, 64, 1 + 37, 37)
    assert (failed.is_batch, failed.status, failed.error_type, failed.input_tokens) == (True, "error", "INVALID_ARGUMENT", 0)


def test_cached_above_prompt_is_rejected() -> None:
    raw = {"usageMetadata": {"promptTokenCount": 10, "cachedContentTokenCount": 20}, "modelVersion": "gemini-2.5-flash"}
    (out,) = GeminiReader().parse(iter([(1, raw)]))
    assert out == Rejection(1, "usageMetadata.cachedContentTokenCount 20 exceeds promptTokenCount 10")


def test_snake_case_sdk_dump() -> None:
    raw = {"usage_metadata": {"prompt_token_count": 100, "candidates_token_count": 5, "thoughts_token_count": 50},
           "model_version": "gemini-2.5-flash", "response_id": "sdk-1", "candidates": []}
    (out,) = GeminiReader().parse(iter([(1, raw)]))
    assert isinstance(out, RequestRecord)
    assert (out.request_id, out.input_tokens, out.output_tokens, out.reasoning_tokens) == ("sdk-1", 100, 55, 50)


def test_audio_tokens_by_modality() -> None:
    usage = {"promptTokenCount": 100_000, "candidatesTokenCount": 1_000,
             "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 96_000}, {"modality": "TEXT", "tokenCount": 4_000}],
             "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 1_000}]}
    (out,) = GeminiReader().parse(iter([(1, {"usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "candidates": []})]))
    assert isinstance(out, RequestRecord)
    assert (out.input_tokens, out.audio_input_tokens, out.output_tokens, out.audio_output_tokens) == (100_000, 96_000, 1_000, 0)


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        SHARED_DATA / "litellm" / "standard_logging_payload.json",
        ASSETS / "openai_chat" / "chat_logs.jsonl",
        ASSETS / "openai_responses" / "responses.jsonl",
        ASSETS / "bedrock" / "invocations.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert GeminiReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(
    asset_records(HERE / "gemini_logs.jsonl") + asset_records(HERE / "vertex_request_response.jsonl")
    + asset_records(HERE / "gemini_batch_output.jsonl")
))
def test_junk_in_any_field_never_raises(raw: dict) -> None:
    outputs = list(GeminiReader().parse(iter([(1, raw)])))
    assert len(outputs) == 1


def test_settings_that_change_the_answer_are_kept() -> None:
    from llmaudit.ingest.gemini import apply_request

    record = RequestRecord(source_line=1)
    apply_request(record, {"contents": "Hi", "generationConfig": {"temperature": 0, "maxOutputTokens": 50,
                                                                  "responseMimeType": "application/json",
                                                                  "stopSequences": ["END"]}})
    assert record.output_params == '{"responseMimeType":"application/json","stopSequences":["END"]}'
    assert (record.temperature, record.max_tokens) == (0.0, 50)
