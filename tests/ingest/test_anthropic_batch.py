"""The Anthropic Message Batches reader: results joined to requests, unbilled failures, bad lines."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings

from llmaudit.ingest.anthropic_batch import AnthropicBatchReader
from llmaudit.ingest.container import sample
from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder, shown_id
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records, read_each

HERE = ASSETS / "anthropic_batch"


@pytest.fixture(scope="module")
def results() -> list[Parsed]:
    return read_each(HERE / "results.jsonl", "anthropic_batch")


def _request(out: list[Parsed], index: int) -> RequestRecord:
    record = out[index]
    assert isinstance(record, RequestRecord), record
    return record


def test_succeeded_result_adds_cache_to_input_and_is_batch(results: list[Parsed]) -> None:
    record = _request(results, 0)
    # input_tokens 9 excludes the 1,100 tokens written to a 1 h cache
    assert (record.input_tokens, record.cache_write_tokens, record.cache_write_1h_tokens) == (9 + 1_100, 1_100, 1_100)
    assert (record.output_tokens, record.output_text, record.finish_reason) == (2, "mixed", "stop")
    assert (record.is_batch, record.service_tier, record.provider, record.endpoint) == (True, "batch", "anthropic", "messages")
    assert (record.request_id, record.join_key, record.is_partial, record.ts) == (
        "msg_01BatchC", "anthropic_batch:review-003", False, None,
    )
    read = _request(results, 1)
    assert (read.input_tokens, read.cache_read_tokens, read.cache_write_tokens) == (10 + 1_100, 1_100, 0)


def test_failed_results_are_unbilled_errors(results: list[Parsed]) -> None:
    errored, expired, canceled = (_request(results, i) for i in (3, 4, 5))
    assert (errored.status, errored.error_type, errored.input_tokens, errored.output_tokens) == (
        "error", "invalid_request_error", 0, 0,
    )
    assert (expired.status, expired.error_type, expired.input_tokens, expired.output_tokens) == ("error", "expired", 0, 0)
    assert (canceled.status, canceled.error_type, canceled.is_batch) == ("error", "canceled", True)
    # No message id: distinct synthetic ids keep them from merging as duplicates.
    assert len({errored.request_id, expired.request_id, canceled.request_id}) == 3


def test_cut_and_unpriceable_lines_are_rejected(results: list[Parsed]) -> None:
    assert isinstance(results[2], Rejection) and results[2].line == 3 and "invalid JSON" in results[2].reason
    assert results[6] == Rejection(7, "missing usage: cannot price")
    assert len(results) == 7


def test_request_lines_are_partial_halves() -> None:
    requests = read_each(HERE / "requests.jsonl", "anthropic_batch")
    first = requests[0]
    assert isinstance(first, RequestRecord)
    assert (first.is_partial, first.join_key, first.is_batch, first.model) == (
        True, "anthropic_batch:review-001", True, "claude-haiku-4-5-20251001",
    )
    assert first.messages[1] == Message("user", "Great fit, fast delivery.")
    assert (first.user_id, first.temperature, first.max_tokens) == ("batch-labeller", 0.0, 16)


def test_requests_and_results_join_on_custom_id_in_any_order() -> None:
    ingestor = Ingestor(TableBuilder())
    for name in ("results.jsonl", "requests.jsonl"):
        ingestor.read_file(SourceFile(name, HERE / name))
    report = ingestor.finish()
    assert report.balanced
    # 7 result lines + 5 request lines: 5 results joined (5 duplicates), 1 success without usage and 1 cut line rejected.
    assert (report.records_read, report.requests, report.duplicates, report.rejected) == (12, 5, 5, 2)
    frame = ingestor.builder.requests_frame().sort("source_line")
    joined = frame.filter(pl.Series([shown_id(key) for key in frame["logged_id"]]) == "msg_01BatchA").row(0, named=True)
    assert (joined["input_tokens"], joined["user_id"], joined["max_tokens"], joined["is_batch"]) == (1_110, "batch-labeller", 16, True)
    assert sorted(frame["status"].to_list()) == ["error", "error", "error", "ok", "ok"]


def test_lines_of_neither_kind_are_rejected() -> None:
    (out,) = AnthropicBatchReader().parse(iter([(4, {"custom_id": "x", "body": {}})]))
    assert isinstance(out, Rejection) and "neither a batch request line" in out.reason
    (unknown,) = AnthropicBatchReader().parse(iter([(5, {"custom_id": "x", "result": {"type": "pending"}})]))
    assert isinstance(unknown, Rejection) and "unknown result type 'pending'" in unknown.reason


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "openai_batch" / "batch-input-expansion.jsonl",
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        SHARED_DATA / "litellm" / "spend_logs_payload.json",
        ASSETS / "anthropic_messages" / "messages.jsonl",
        ASSETS / "gemini" / "gemini_batch_output.jsonl",
        ASSETS / "bedrock" / "invocations.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert AnthropicBatchReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(asset_records(HERE / "results.jsonl") + asset_records(HERE / "requests.jsonl")))
def test_junk_in_any_field_never_raises(raw: dict) -> None:
    outputs = list(AnthropicBatchReader().parse(iter([(1, raw)])))
    assert len(outputs) == 1
