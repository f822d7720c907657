"""The LiteLLM readers: spend-log rows (JSON strings inside), callback payloads, cache semantics."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmaudit.ingest.container import iter_records, sample
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord
from llmaudit.ingest.registry import detect, readers
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS, SHARED_DATA

HERE = ASSETS / "litellm"
M = 1e-6
"""Prices in the tests are USD per million tokens, from the providers' price lists."""
KEY_HASH = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"


def read_each(path: Path, expected_reader: str) -> list[Parsed]:
    """Detect the file, then parse record by record: every record must yield exactly one output."""
    source = SourceFile(name=path.name, path=path)
    reader, found = detect(source)
    assert reader.name == expected_reader
    outputs: list[Parsed] = []
    for line, record in iter_records(source, found.kind):
        if isinstance(record, Rejection):
            outputs.append(record)
            continue
        produced = list(reader.parse(iter([(line, record)])))
        assert len(produced) == 1, f"line {line} gave {len(produced)} outputs"
        outputs.append(produced[0])
    return outputs


def request(outputs: list[Parsed], index: int) -> RequestRecord:
    record = outputs[index]
    assert isinstance(record, RequestRecord), record
    return record


def test_assets_are_the_real_shared_samples() -> None:
    for name in ("spend_logs_payload.json", "standard_logging_payload.json"):
        assert (HERE / name).read_bytes() == (SHARED_DATA / "litellm" / name).read_bytes()


def test_real_spend_log_row_decodes_its_json_string_columns() -> None:
    (record,) = read_each(HERE / "spend_logs_payload.json", "litellm_spendlogs")
    assert isinstance(record, RequestRecord)
    assert record.request_id == "chatcmpl-2283081b-dc89-41f6-93e6-d4f914774027"
    assert record.ts == datetime(2025, 1, 24, 9, 20, 46, 847371, tzinfo=UTC)
    assert (record.provider, record.model, record.endpoint, record.session_id) == ("openai", "gpt-4o", "chat", "1234567890")
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (10, 0, 20)
    # 10 x $2.50/M + 20 x $10/M, as the row's own model map says.
    assert record.cost_reported_usd == pytest.approx(10 * 2.5e-6 + 20 * 1e-5)
    assert record.latency_ms == pytest.approx(4.583)  # 46.851954 - 46.847371 s
    assert record.ttft_ms is None  # completionStartTime == endTime: not a streamed first token
    assert record.status == "ok" and record.metadata == {} and record.messages == []


def test_real_standard_logging_payload() -> None:
    (record,) = read_each(HERE / "standard_logging_payload.json", "litellm_payload")
    assert isinstance(record, RequestRecord)
    assert (record.request_id, record.model, record.provider, record.stream) == (
        "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f", "gpt-4o", "openai", True,
    )
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (10, 20, 0)
    assert record.cost_reported_usd == pytest.approx(0.000225)
    assert [(m.role, m.text) for m in record.messages] == [("user", "Hello, world!")]
    assert (record.output_text, record.finish_reason) == ("hi", "stop")
    assert record.ttft_ms == pytest.approx(4.583)  # streamed: the first token time counts


def test_spend_logs_jsonl_openai_row_keeps_cache_and_reasoning_inside() -> None:
    record = request(read_each(HERE / "spend_logs.jsonl", "litellm_spendlogs"), 0)
    # usage_object: prompt 2860 with cached 2048 inside; completion 600 with reasoning 448 inside.
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (2860, 2048, 0)
    assert (record.output_tokens, record.reasoning_tokens) == (600, 448)
    # o3-mini: $1.10 input, $0.55 cached, $4.40 output (reasoning billed as output).
    assert record.cost_reported_usd == pytest.approx((2860 - 2048) * 1.10 * M + 2048 * 0.55 * M + 600 * 4.40 * M)
    assert (record.user_id, record.team, record.api_key, record.session_id) == ("cust-1042", "team-cx", KEY_HASH, "sess-77")
    assert (record.latency_ms, record.ttft_ms) == (3250.0, 790.0)
    assert record.model == "o3-mini"  # as logged, not the response's snapshot name
    assert record.metadata["feature"] == "ticket-summary"
    assert record.metadata["tag:tier:gold"] == "true" and record.metadata["tag:support"] == "true"
    assert record.metadata["litellm_key_alias"] == "support-prod"
    assert [m.role for m in record.messages] == ["system", "user"]
    assert record.output_text == "Customer awaits refund for order 1042."


def test_anthropic_cache_inside_prompt_tokens_is_not_added_again() -> None:
    record = request(read_each(HERE / "spend_logs.jsonl", "litellm_spendlogs"), 1)
    # New LiteLLM: prompt_tokens 5200 = 200 uncached + 4000 read + 1000 written.
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (5200, 4000, 1000)
    assert (record.model, record.provider) == ("anthropic/claude-3-5-sonnet-20240620", "anthropic")
    # Claude 3.5 Sonnet: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    assert record.cost_reported_usd == pytest.approx(200 * 3 * M + 4000 * 0.30 * M + 1000 * 3.75 * M + 220 * 15 * M)


def test_old_anthropic_style_row_is_normalised_by_adding_cache() -> None:
    record = request(read_each(HERE / "spend_logs.jsonl", "litellm_spendlogs"), 2)
    # Old LiteLLM: prompt_tokens 300 is only the uncached part; 6000 + 1200 > 300 proves it.
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (300 + 6000 + 1200, 6000, 1200)
    assert record.ts == datetime(2024, 9, 12, 8, 0, tzinfo=UTC)
    assert record.cost_reported_usd == pytest.approx(300 * 3 * M + 6000 * 0.30 * M + 1200 * 3.75 * M + 280 * 15 * M)
    assert record.metadata["tag:batch-eval"] == "true"


def test_failure_and_litellm_cache_hit() -> None:
    outputs = read_each(HERE / "spend_logs.jsonl", "litellm_spendlogs")
    failed, hit = request(outputs, 3), request(outputs, 4)
    assert (failed.status, failed.error_type, failed.provider) == ("error", "Timeout", "azure")
    assert (failed.input_tokens, failed.output_tokens) == (0, 0)
    assert hit.status == "ok" and hit.metadata["litellm_cache_hit"] == "true"
    assert (hit.input_tokens, hit.output_tokens, hit.cost_reported_usd) == (120, 40, 0.0)


def test_bad_rows_are_rejected_with_reasons() -> None:
    outputs = read_each(HERE / "spend_logs.jsonl", "litellm_spendlogs")
    assert outputs[5:] == [
        Rejection(6, "prompt_tokens is not a number: 'twelve'"),
        Rejection(7, "missing token counts: cannot price"),
        Rejection(8, "metadata is not valid JSON: '{usage_object: oops'"),
    ]


def test_csv_export_is_read_by_column_name() -> None:
    outputs = read_each(HERE / "spend_logs.csv", "litellm_spendlogs")
    jsonl = read_each(HERE / "spend_logs.jsonl", "litellm_spendlogs")
    assert len(outputs) == 4
    for csv_record, json_record in zip(outputs[:3], jsonl[:3], strict=True):
        assert isinstance(csv_record, RequestRecord) and isinstance(json_record, RequestRecord)
        assert csv_record.source_line == json_record.source_line + 1  # the header is line 1
        csv_record.source_line = json_record.source_line
        assert csv_record == json_record
    assert outputs[3] == Rejection(5, "prompt_tokens is not a number: 'twelve'")


def test_payloads_epoch_times_bedrock_and_cache_hit() -> None:
    outputs = read_each(HERE / "payloads.jsonl", "litellm_payload")
    bedrock = request(outputs, 0)
    assert bedrock.ts == datetime(2025, 3, 3, 11, 6, 40, 250000, tzinfo=UTC)  # epoch 1741000000.25
    assert (bedrock.provider, bedrock.model) == ("bedrock", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0")
    assert (bedrock.input_tokens, bedrock.cache_read_tokens, bedrock.output_tokens) == (3100, 2500, 150)
    assert (bedrock.latency_ms, bedrock.ttft_ms) == (1500.0, 400.0)
    assert bedrock.cost_reported_usd == pytest.approx(600 * 3 * M + 2500 * 0.30 * M + 150 * 15 * M)
    assert (bedrock.temperature, bedrock.max_tokens, bedrock.stream) == (0.1, 256, True)
    assert (bedrock.user_id, bedrock.team, bedrock.api_key) == ("cust-88", "team-search", KEY_HASH)
    assert bedrock.metadata["feature"] == "query-rewrite" and bedrock.metadata["app_version"] == "4.2.0"
    assert bedrock.metadata["tag:search"] == "true"
    assert [m.text for m in bedrock.messages] == ["Rewrite the query for search.", "cheap flights lisbon may"]
    hit = request(outputs, 1)
    assert hit.metadata["litellm_cache_hit"] == "true" and hit.status == "ok" and hit.cost_reported_usd == 0.0
    assert hit.ts == datetime(2025, 3, 3, 11, 8, 20, tzinfo=UTC)  # epoch given as a string


def test_payload_reasoning_beside_completion_is_added_and_failures_marked() -> None:
    outputs = read_each(HERE / "payloads.jsonl", "litellm_payload")
    gemini = request(outputs, 2)
    assert (gemini.output_tokens, gemini.reasoning_tokens) == (120 + 800, 800)
    # Gemini 2.5 Flash: $0.30 input, $2.50 output, thinking billed as output.
    assert gemini.cost_reported_usd == pytest.approx(900 * 0.30 * M + 920 * 2.50 * M)
    assert gemini.temperature == 0.0 and [m.text for m in gemini.messages] == ["Classify this ticket: printer jam"]
    failed = request(outputs, 3)
    assert (failed.status, failed.error_type, failed.endpoint) == ("error", "RateLimitError", "embeddings")
    assert outputs[4] == Rejection(5, "startTime is not a date: 'yesterday-ish'")


def test_readers_do_not_claim_each_other(tmp_path: Path) -> None:
    # Each real sample is claimed by exactly one of the two readers, whatever the file is called.
    for name, expected in (("spend_logs_payload.json", "litellm_spendlogs"), ("standard_logging_payload.json", "litellm_payload")):
        copy = tmp_path / f"x_{name}"
        shutil.copy(HERE / name, copy)
        reader, _ = detect(SourceFile(copy.name, copy))
        assert reader.name == expected


def test_no_other_reader_claims_these_files() -> None:
    for path in sorted(HERE.iterdir()):
        if path.suffix not in (".json", ".jsonl", ".csv"):
            continue
        found = sample(SourceFile(path.name, path))
        claims = {name: reader.sniff(found) for name, reader in readers().items() if found.kind in reader.containers}
        owner = "litellm_payload" if path.name.startswith(("payloads", "standard")) else "litellm_spendlogs"
        assert claims.pop(owner) >= 90, path.name
        assert {name: score for name, score in claims.items() if score} == {}, path.name


def test_settings_that_change_the_answer_are_kept_from_model_parameters(tmp_path: Path) -> None:
    import json

    payload = json.loads((HERE / "standard_logging_payload.json").read_text())
    payload["model_parameters"] = {"temperature": 0, "response_format": {"type": "json_object"}, "stop": ["END"]}
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload))
    (record,) = read_each(path, "litellm_payload")
    assert isinstance(record, RequestRecord)
    assert record.output_params == '{"response_format":{"type":"json_object"},"stop":["END"]}'
