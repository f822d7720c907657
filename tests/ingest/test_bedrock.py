"""The Bedrock reader: cache counts outside inputTokenCount, Anthropic and Converse bodies, streams, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from llmaudit.ingest.bedrock import BedrockReader
from llmaudit.ingest.container import sample
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records, read_each

HERE = ASSETS / "bedrock"
ARN = "arn:aws:sts::123456789012:assumed-role/BedrockAppRole/checkout-service"


@pytest.fixture(scope="module")
def logs() -> list[Parsed]:
    return read_each(HERE / "invocations.jsonl", "bedrock")


def test_cache_reads_and_writes_are_added_to_input(logs: list[Parsed]) -> None:
    record = logs[0]
    assert isinstance(record, RequestRecord)
    # inputTokenCount 12 excludes cache: 12 + 95,500 read + 1,800 written
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (97_312, 95_500, 1_800)
    assert (record.cache_write_1h_tokens, record.output_tokens) == (1_000, 420)
    assert (record.provider, record.model, record.endpoint) == ("aws", "anthropic.claude-3-5-sonnet-20240620-v1:0", "messages")
    assert record.request_id == "0f6a2c1e-8d4b-4a7e-9a51-3c2b1d0e9f11"
    assert record.ts == datetime(2025, 7, 1, 12, tzinfo=UTC)
    assert (record.api_key, record.user_id) == (ARN, "BedrockAppRole/checkout-service")
    assert record.metadata == {"region": "us-east-1", "account_id": "123456789012", "feature": "checkout-help", "team": "payments"}
    assert [m.role for m in record.messages] == ["system", "user"]
    assert (record.temperature, record.max_tokens, record.stream) == (0.3, 1024, False)
    assert (record.finish_reason, record.output_text) == ("stop", "Yes - until it ships. Here's how...")


def test_converse_body_with_tools_and_cache_points(logs: list[Parsed]) -> None:
    record = logs[1]
    assert isinstance(record, RequestRecord)
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens, record.output_tokens) == (5_100, 0, 3_000, 96)
    assert (record.model, record.endpoint) == ("us.anthropic.claude-sonnet-4-20250514-v1:0", "converse")
    assert record.messages == [
        Message("system", "You are the Acme billing agent."),
        Message("user", "Refund the duplicate charge on order 5521."),
        Message("assistant", 'find_charges({"order":"5521"})', "tool_call"),
        Message("tool", '{"charges":[19.99,19.99]}', "tool_result"),
    ]
    assert len(record.tools) == 1 and '"name":"refund"' in record.tools[0]
    assert (record.temperature, record.top_p, record.max_tokens) == (0.0, 0.9, 2048)
    assert (record.finish_reason, record.latency_ms) == ("tool_calls", 2315.0)
    assert record.output_text == 'Refunding 19.99.\nrefund({"amount":19.99})'
    assert record.metadata["inference_region"] == "us-west-2"


def test_converse_stream_through_an_inference_profile_arn(logs: list[Parsed]) -> None:
    record = logs[2]
    assert isinstance(record, RequestRecord)
    assert record.model == "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (850 + 4_096, 4_096, 14)
    assert record.output_text == "Customer reports a late parcel. Courier confirmed delivery today."
    assert (record.stream, record.finish_reason, record.latency_ms) == (True, "stop", 640.0)


def test_malformed_line_is_rejected(logs: list[Parsed]) -> None:
    assert isinstance(logs[3], Rejection) and logs[3].line == 4 and "invalid JSON" in logs[3].reason


def test_error_code_makes_an_error_request_with_zero_tokens(logs: list[Parsed]) -> None:
    record = logs[4]
    assert isinstance(record, RequestRecord)
    assert (record.status, record.error_type, record.input_tokens, record.output_tokens) == ("error", "ThrottlingException", 0, 0)
    assert record.messages == [Message("user", "ping")]


def test_missing_and_corrupt_counts_are_rejected(logs: list[Parsed]) -> None:
    assert logs[5] == Rejection(6, "missing input.inputTokenCount: cannot price")
    assert logs[6] == Rejection(7, "input.cacheReadInputTokenCount is negative: -100")
    assert len(logs) == 7


def test_cloudwatch_insights_csv_wraps_the_log_in_message() -> None:
    (record,) = read_each(HERE / "cloudwatch_insights.csv", "bedrock")
    assert isinstance(record, RequestRecord)
    assert (record.model, record.input_tokens, record.output_tokens, record.output_text) == ("amazon.nova-lite-v1:0", 25, 2, "damage")
    assert record.messages == [Message("system", "Reply with one label."), Message("user", "Classify: 'parcel arrived damaged'")]


def test_flattened_insights_fields() -> None:
    raw = {
        "schemaType": "ModelInvocationLog", "timestamp": "2025-07-01T00:00:00Z", "requestId": "r-1",
        "modelId": "anthropic.claude-3-haiku-20240307-v1:0", "operation": "InvokeModel", "identity.arn": ARN,
        "input.inputTokenCount": 10, "input.cacheReadInputTokenCount": 90, "output.outputTokenCount": 4,
    }
    (out,) = BedrockReader().parse(iter([(1, raw)]))
    assert isinstance(out, RequestRecord)
    assert (out.input_tokens, out.cache_read_tokens, out.output_tokens, out.api_key) == (100, 90, 4, ARN)


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        SHARED_DATA / "litellm" / "spend_logs_payload.json",
        ASSETS / "openai_chat" / "chat_logs.jsonl",
        ASSETS / "gemini" / "gemini_logs.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert BedrockReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(asset_records(HERE / "invocations.jsonl") + asset_records(HERE / "cloudwatch_insights.csv")))
def test_junk_in_any_field_never_raises(raw: dict) -> None:
    outputs = list(BedrockReader().parse(iter([(1, raw)])))
    assert len(outputs) == 1


def test_an_empty_input_count_is_a_rejection_not_a_crash() -> None:
    raw = {"schemaType": "ModelInvocationLog", "timestamp": "2025-07-01T12:00:00Z", "requestId": "r-1",
           "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0", "input": {"inputTokenCount": ""},
           "output": {"outputTokenCount": 5}}
    assert list(BedrockReader().parse(iter([(1, raw)]))) == [Rejection(1, "missing input.inputTokenCount")]
