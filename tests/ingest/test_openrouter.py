"""The OpenRouter reader: activity CSV by column name, cached and reasoning as parts of their totals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmaudit.ingest.container import iter_records, sample
from llmaudit.ingest.openrouter import provider_from_slug
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord
from llmaudit.ingest.registry import detect, readers
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS

HERE = ASSETS / "openrouter"
M = 1e-6
"""Prices in the tests are USD per million tokens, from the providers' price lists."""


def read_each(path: Path) -> list[Parsed]:
    """Detect the file, then parse record by record: every record must yield exactly one output."""
    source = SourceFile(name=path.name, path=path)
    reader, found = detect(source)
    assert reader.name == "openrouter"
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
def current() -> list[Parsed]:
    return read_each(HERE / "activity.csv")


def test_cached_tokens_are_inside_tokens_prompt(current: list[Parsed]) -> None:
    record = request(current, 0)
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (2310, 1920, 180)
    # gpt-4o-mini: $0.15 input, $0.075 cached, $0.60 output; cost_cache is the cache discount.
    assert record.cost_reported_usd == pytest.approx(390 * 0.15 * M + 1920 * 0.075 * M + 180 * 0.60 * M)
    assert record.ts == datetime(2025, 5, 15, 9, 12, 44, 318000, tzinfo=UTC)
    assert (record.model, record.provider, record.endpoint) == ("openai/gpt-4o-mini-2024-07-18", "openai", "chat")
    assert (record.latency_ms, record.ttft_ms, record.stream) == (2210.0, 540.0, True)
    assert (record.user_id, record.feature, record.api_key) == ("cust-17", "Support Widget", "prod-backend")
    assert record.metadata == {
        "openrouter_provider": "OpenAI", "openrouter_app": "Support Widget",
        "openrouter_cost_cache": "-0.000144", "openrouter_variant": "standard",
    }


def test_reasoning_is_inside_tokens_completion(current: list[Parsed]) -> None:
    record = request(current, 1)
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (4210, 1320, 896)
    assert (record.provider, record.model) == ("anthropic", "anthropic/claude-3.7-sonnet")
    assert record.cost_reported_usd == pytest.approx(4210 * 3 * M + 1320 * 15 * M)


def test_cancelled_and_errored_generations(current: list[Parsed]) -> None:
    cancelled, errored = request(current, 2), request(current, 3)
    assert (cancelled.status, cancelled.error_type, cancelled.provider) == ("error", "cancelled", "google")
    assert (cancelled.input_tokens, cancelled.cache_read_tokens, cancelled.output_tokens) == (800, 0, 64)
    assert cancelled.cost_reported_usd == pytest.approx(800 * 0.10 * M + 64 * 0.40 * M)  # still billed
    assert (errored.status, errored.error_type, errored.provider) == ("error", "error", "meta-llama")
    assert (errored.input_tokens, errored.output_tokens, errored.cost_reported_usd) == (950, 0, 0.0)


def test_bad_rows_are_rejected(current: list[Parsed]) -> None:
    assert current[4:] == [
        Rejection(6, "tokens_prompt is not a number: 'lots'"),
        Rejection(7, "missing token counts: cannot price"),
    ]


def test_older_export_without_tokens_cached_in_another_column_order() -> None:
    outputs = read_each(HERE / "activity_old.csv")
    r1, o1 = request(outputs, 0), request(outputs, 1)
    assert (r1.input_tokens, r1.cache_read_tokens, r1.output_tokens, r1.reasoning_tokens) == (150, 0, 2600, 2100)
    assert (r1.provider, r1.user_id, r1.feature) == ("deepseek", None, None)
    # 900 reasoning cannot be part of 300 completion tokens: this row logged them beside it.
    assert (o1.output_tokens, o1.reasoning_tokens) == (300 + 900, 900)
    assert o1.cost_reported_usd == pytest.approx(500 * 1.10 * M + 1200 * 4.40 * M)
    assert r1.cost_reported_usd == pytest.approx(150 * 0.55 * M + 2600 * 2.19 * M)
    assert (o1.user_id, o1.feature, o1.ts) == ("u-5", "Notebook", datetime(2024, 12, 1, 18, 5, tzinfo=UTC))


@pytest.mark.parametrize(
    ("slug", "provider"),
    [("openai/gpt-4o-mini", "openai"), ("meta-llama/llama-3.1-8b-instruct", "meta-llama"), ("gpt-4o", None), ("", None)],
)
def test_provider_from_slug(slug: str, provider: str | None) -> None:
    assert provider_from_slug(slug) == provider


def test_no_other_reader_claims_these_files() -> None:
    for path in sorted(HERE.iterdir()):
        if path.suffix not in (".json", ".jsonl", ".csv"):
            continue
        found = sample(SourceFile(path.name, path))
        claims = {name: reader.sniff(found) for name, reader in readers().items() if found.kind in reader.containers}
        owner = "openrouter"
        assert claims.pop(owner) >= 90, path.name
        assert {name: score for name, score in claims.items() if score} == {}, path.name
