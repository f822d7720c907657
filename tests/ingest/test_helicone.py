"""The Helicone reader: bodies over columns, cache columns inside or outside prompt_tokens, CSV cells."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmaudit.ingest.container import iter_records, sample
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord
from llmaudit.ingest.registry import detect, readers
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS

HERE = ASSETS / "helicone"
M = 1e-6
"""Prices in the tests are USD per million tokens, from the providers' price lists."""


def read_each(path: Path) -> list[Parsed]:
    """Detect the file, then parse record by record: every record must yield exactly one output."""
    source = SourceFile(name=path.name, path=path)
    reader, found = detect(source)
    assert reader.name == "helicone"
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
def jsonl() -> list[Parsed]:
    return read_each(HERE / "requests.jsonl")


def test_openai_body_usage_wins_over_cache_free_columns(jsonl: list[Parsed]) -> None:
    record = request(jsonl, 0)
    # Columns say prompt 480 (= 2400 - 1920 cached); the response body's own usage says 2400 in total.
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (2400, 1920, 150)
    # gpt-4o-mini: $0.15 input, $0.075 cached, $0.60 output.
    assert record.cost_reported_usd == pytest.approx(480 * 0.15 * M + 1920 * 0.075 * M + 150 * 0.60 * M)
    assert record.ts == datetime(2025, 4, 1, 12, 0, tzinfo=UTC)
    assert (record.provider, record.model, record.endpoint) == ("openai", "gpt-4o-mini-2024-07-18", "chat")
    assert (record.latency_ms, record.ttft_ms, record.stream) == (1830.0, 420.0, True)
    assert (record.user_id, record.session_id, record.feature) == ("user-311", "sess-a1", "ticket-triage")
    assert record.metadata == {"feature": "ticket-triage", "environment": "prod"}
    assert (record.temperature, record.max_tokens) == (0.3, 300)
    assert [(m.role, m.text) for m in record.messages] == [
        ("system", "Triage support tickets into queues."), ("user", "My invoice is wrong"),
    ]
    assert (record.output_text, record.finish_reason) == ("queue: billing", "stop")


def test_anthropic_body_adds_cache_to_input(jsonl: list[Parsed]) -> None:
    record = request(jsonl, 1)
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (150 + 3000 + 500, 3000, 500)
    assert record.output_tokens == 300
    assert record.cost_reported_usd == pytest.approx(150 * 3 * M + 3000 * 0.30 * M + 500 * 3.75 * M + 300 * 15 * M)
    assert (record.provider, record.endpoint, record.feature, record.user_id) == ("anthropic", "messages", "code-review", "dev-42")
    assert [(m.role, m.text) for m in record.messages] == [("system", "You review diffs."), ("user", "Review this diff: +x = 1")]
    assert len(record.tools) == 1 and '"name":"post_comment"' in record.tools[0]
    assert (record.output_text, record.finish_reason, record.max_tokens) == ("Looks fine.", "stop", 1024)


def test_columns_without_bodies_follow_the_total(jsonl: list[Parsed]) -> None:
    current, older, anthropic = request(jsonl, 2), request(jsonl, 3), request(jsonl, 4)
    # Current export: total 1858 = 1000 + 768 + 90, so the 768 cached are outside prompt_tokens.
    assert (current.input_tokens, current.cache_read_tokens, current.output_tokens) == (1768, 768, 90)
    assert current.ts == datetime(2025, 4, 1, 12, 2, tzinfo=UTC)
    # Older export: total 1858 = 1768 + 90, so prompt_tokens already holds the cached 768.
    assert (older.input_tokens, older.cache_read_tokens) == (1768, 768)
    # Anthropic columns are Anthropic's input_tokens: cache is always outside.
    assert (anthropic.input_tokens, anthropic.cache_read_tokens, anthropic.output_tokens) == (40 + 2000, 2000, 120)
    # gpt-4o: $2.50 input, $1.25 cached, $10 output; Claude 3.5 Haiku: $0.80 input, $0.08 read, $4 output.
    assert current.cost_reported_usd == older.cost_reported_usd == pytest.approx(1000 * 2.5 * M + 768 * 1.25 * M + 90 * 10 * M)
    assert anthropic.cost_reported_usd == pytest.approx(40 * 0.80 * M + 2000 * 0.08 * M + 120 * 4 * M)


def test_errors_and_bad_rows(jsonl: list[Parsed]) -> None:
    limited = request(jsonl, 5)
    assert (limited.status, limited.error_type) == ("error", "http_429")
    assert (limited.input_tokens, limited.output_tokens) == (0, 0)
    assert jsonl[6:] == [
        Rejection(7, "prompt_tokens is negative: -5"),
        Rejection(8, "missing token counts: cannot price"),
    ]


def test_csv_cells_are_decoded_by_column_name(jsonl: list[Parsed]) -> None:
    outputs = read_each(HERE / "requests.csv")
    assert len(outputs) == 4
    for csv_record, json_record in zip(outputs[:2], jsonl[:2], strict=True):
        assert isinstance(csv_record, RequestRecord) and isinstance(json_record, RequestRecord)
        csv_record.source_line -= 1  # the header is line 1
        assert csv_record == json_record
    pandas_row = request(outputs, 2)
    # request_properties written by pandas as a Python literal.
    assert pandas_row.feature == "search" and pandas_row.metadata == {"feature": "search"}
    assert token_counts(pandas_row) == (1768, 768, 90)
    assert outputs[3] == Rejection(5, "request_body is not valid JSON: '{\"model\": \"gpt-4o-mini\", \"messages\": [tr'")


def token_counts(record: RequestRecord) -> tuple[int | None, int, int | None]:
    return record.input_tokens, record.cache_read_tokens, record.output_tokens


@pytest.mark.parametrize("name", ["export_old.json", "export_old.csv"])
def test_old_typescript_exporter(name: str) -> None:
    (record,) = read_each(HERE / name)
    assert isinstance(record, RequestRecord)
    assert (record.request_id, record.model, record.user_id) == ("r-old-1", "gpt-3.5-turbo-0125", "old-user")
    assert (record.input_tokens, record.output_tokens, record.latency_ms) == (12, 3, 1500.0)
    assert record.cost_reported_usd == pytest.approx(12 * 0.50 * M + 3 * 1.50 * M)  # gpt-3.5-turbo-0125
    assert [m.text for m in record.messages] == ['Say "hi"']  # the CSV's doubled quotes are undone
    assert record.metadata == {"app": "playground"}


def test_no_other_reader_claims_these_files() -> None:
    for path in sorted(HERE.iterdir()):
        if path.suffix not in (".json", ".jsonl", ".csv"):
            continue
        found = sample(SourceFile(path.name, path))
        claims = {name: reader.sniff(found) for name, reader in readers().items() if found.kind in reader.containers}
        owner = "helicone"
        assert claims.pop(owner) >= 90, path.name
        assert {name: score for name, score in claims.items() if score} == {}, path.name
