"""The Langfuse reader: generations only, details outside the base counts, camel and snake case."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmaudit.ingest.container import iter_records, sample
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord, Skipped
from llmaudit.ingest.registry import detect, readers
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS

HERE = ASSETS / "langfuse"
M = 1e-6
"""Prices in the tests are USD per million tokens, from the providers' price lists."""


def read_each(path: Path) -> list[Parsed]:
    """Detect the file, then parse record by record: every record must yield exactly one output."""
    source = SourceFile(name=path.name, path=path)
    reader, found = detect(source)
    assert reader.name == "langfuse"
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


@pytest.fixture(scope="module")
def api_export() -> list[Parsed]:
    return read_each(HERE / "observations.json")


def test_cached_and_reasoning_details_are_outside_the_base_counts(api_export: list[Parsed]) -> None:
    record = request(api_export, 0)
    # usageDetails: input 476 + input_cached_tokens 1024; output 70 + output_reasoning_tokens 128; total 1698.
    assert (record.input_tokens, record.cache_read_tokens) == (476 + 1024, 1024)
    assert (record.output_tokens, record.reasoning_tokens) == (70 + 128, 128)
    # o4-mini: $1.10 input, $0.275 cached, $4.40 output.
    assert record.cost_reported_usd == pytest.approx(476 * 1.10 * M + 1024 * 0.275 * M + 198 * 4.40 * M)
    assert record.ts == datetime(2025, 5, 10, 8, 0, tzinfo=UTC)
    assert (record.model, record.provider, record.endpoint) == ("o4-mini-2025-04-16", "openai", "chat")
    assert (record.latency_ms, record.ttft_ms) == (2400.0, 650.0)
    assert (record.temperature, record.max_tokens) == (1.0, 2048)  # modelParameters logged as strings
    assert (record.feature, record.template) == ("ticket-triage", "ticket-triage")  # the managed prompt's name
    assert record.metadata["langfuse_trace_id"] == "tr-100" and record.metadata["langfuse_prompt_version"] == "3"
    assert record.metadata["tenant"] == "acme"
    assert [(m.role, m.text) for m in record.messages] == [("system", "Route the ticket."), ("user", "Card declined twice")]
    assert record.output_text == "queue: payments"


def test_spans_and_events_are_skipped(api_export: list[Parsed]) -> None:
    # A JSON document's records are numbered by the line they start on.
    assert api_export[1] == Skipped(67, "Langfuse SPAN observation is not a model call")
    assert api_export[2] == Skipped(83, "Langfuse EVENT observation is not a model call")


def test_anthropic_style_cache_keys_are_added(api_export: list[Parsed]) -> None:
    record = request(api_export, 3)
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (25 + 5000 + 800, 5000, 800)
    assert record.output_tokens == 400
    # costDetails.total when calculatedTotalCost is null; Claude 3.7 Sonnet prices as 3.5 Sonnet.
    assert record.cost_reported_usd == pytest.approx(25 * 3 * M + 5000 * 0.30 * M + 800 * 3.75 * M + 400 * 15 * M)
    assert record.feature == "contract-summary"  # explicit metadata beats the observation name
    assert [m.text for m in record.messages] == ["Summarise the contract"]
    assert record.output_text == "The contract runs 12 months."


def test_a_total_equal_to_input_plus_output_keeps_details_inside(api_export: list[Parsed]) -> None:
    record = request(api_export, 4)
    # total 2100 = 2000 + 100: this producer left the 1536 cached tokens inside input.
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (2000, 1536, 100)
    assert record.cost_reported_usd == pytest.approx(464 * 2.5 * M + 1536 * 1.25 * M + 100 * 10 * M)
    assert record.feature == "faq-bot"  # the generic name "generation" gives way to the trace name


def test_old_style_usage_error_level_and_bad_rows(api_export: list[Parsed]) -> None:
    record = request(api_export, 5)
    assert (record.input_tokens, record.output_tokens) == (120, 30)
    assert record.cost_reported_usd == pytest.approx(120 * 0.50 * M + 30 * 1.50 * M)
    assert (record.status, record.error_type) == ("error", "RateLimitError: 429 Too Many Requests")
    assert record.latency_ms == 800.0  # no endTime: the API's latency in seconds
    assert [m.text for m in record.messages] == ["Summarise: hello world"]
    assert api_export[6:] == [
        Rejection(224, "missing token counts: cannot price"),
        Rejection(258, "startTime is not a date: 'not a time'"),
    ]


def test_blob_export_in_snake_case() -> None:
    outputs = read_each(HERE / "observations_blob.jsonl")
    record = request(outputs, 0)
    assert record.ts == datetime(2024, 5, 29, 13, 46, 19, 963000, tzinfo=UTC)
    assert (record.model, record.input_tokens, record.output_tokens) == ("gpt-4o-2024-05-13", 900, 210)
    assert (record.latency_ms, record.ttft_ms) == (1500.0, 200.0)
    assert record.cost_reported_usd == pytest.approx(900 * 5 * M + 210 * 15 * M)  # gpt-4o-2024-05-13
    assert (record.feature, record.template, record.temperature, record.max_tokens) == ("blog-writer", "blog-outline", 0.7, 800)
    assert outputs[1] == Skipped(2, "Langfuse SPAN observation is not a model call")
    embedding = request(outputs, 2)
    assert (embedding.endpoint, embedding.input_tokens, embedding.output_tokens) == ("embeddings", 5120, 0)
    assert embedding.cost_reported_usd == pytest.approx(5120 * 0.02 * M)


def test_csv_export_decodes_json_cells(api_export: list[Parsed]) -> None:
    outputs = read_each(HERE / "observations.csv")
    assert len(outputs) == 4
    first, anthropic = request(outputs, 0), request(outputs, 2)
    assert (first.input_tokens, first.cache_read_tokens, first.output_tokens, first.reasoning_tokens) == (1500, 1024, 198, 128)
    assert first.messages == request(api_export, 0).messages
    assert (anthropic.input_tokens, anthropic.cache_write_tokens) == (5825, 800)
    assert outputs[1] == Skipped(3, "Langfuse SPAN observation is not a model call")
    assert outputs[3] == Rejection(5, "usageDetails is not valid JSON: '{\"input\": 2000, \"output\":'")


def test_no_other_reader_claims_these_files() -> None:
    for path in sorted(HERE.iterdir()):
        if path.suffix not in (".json", ".jsonl", ".csv"):
            continue
        found = sample(SourceFile(path.name, path))
        claims = {name: reader.sniff(found) for name, reader in readers().items() if found.kind in reader.containers}
        owner = "langfuse"
        assert claims.pop(owner) >= 90, path.name
        assert {name: score for name, score in claims.items() if score} == {}, path.name
