"""The OpenAI usage and costs readers: dashboard CSVs and API buckets, all aggregates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from llmaudit.ingest.container import sample
from llmaudit.ingest.openai_usage import OpenAICostsReader, OpenAIUsageReader, model_from_line_item
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord, Skipped
from llmaudit.ingest.source import SourceFile
from tests.conftest import ASSETS
from tests.ingest.reader_harness import asset_records, mutated_records, read_outputs

HERE = ASSETS / "openai_usage"
MARCH_1 = datetime(2025, 3, 1, tzinfo=UTC)


def one(outputs: list[Parsed]) -> Parsed:
    assert len(outputs) == 1
    return outputs[0]


def test_dashboard_usage_csv_rows_are_aggregates_read_by_header() -> None:
    rows = read_outputs(HERE / "usage_dashboard.csv", "openai_usage")
    assert [line for line, _ in rows] == [2, 3, 4, 5, 6, 7]
    daily = one(rows[0][1])
    assert isinstance(daily, RequestRecord)
    assert (daily.input_tokens, daily.cache_read_tokens, daily.output_tokens) == (3_450_000, 1_200_000, 410_000)
    assert (daily.is_aggregate, daily.request_count, daily.is_batch) == (True, 1200, False)
    assert (daily.ts, daily.model, daily.provider) == (MARCH_1, "gpt-4o-2024-08-06", "openai")
    assert (daily.api_key, daily.service_tier, daily.user_id) == ("key_9fA2b", "default", None)
    assert daily.metadata["project_id"] == "proj_Qm3xT7" and daily.metadata["project_name"] == "support"
    assert daily.metadata["bucket_end"] == "2025-03-02T00:00:00+00:00"
    assert daily.request_id is not None and daily.request_id.startswith("usage:1740787200:gpt-4o-2024-08-06:proj_Qm3xT7:key_9fA2b:")


def test_bucket_totals_above_the_per_request_ceiling_are_kept() -> None:
    batch = one(read_outputs(HERE / "usage_dashboard.csv", "openai_usage")[1][1])
    assert isinstance(batch, RequestRecord)
    assert (batch.input_tokens, batch.is_batch, batch.request_count, batch.service_tier) == (80_000_000, True, 5000, None)


def test_input_total_is_rebuilt_from_cached_plus_uncached() -> None:
    split = one(read_outputs(HERE / "usage_dashboard.csv", "openai_usage")[2][1])
    assert isinstance(split, RequestRecord)
    assert (split.input_tokens, split.cache_read_tokens, split.output_tokens) == (61_000 + 4_096, 4_096, 52_000)
    assert (split.user_id, split.service_tier) == ("user_abc", "flex")


def test_bad_usage_rows_are_rejected() -> None:
    rows = read_outputs(HERE / "usage_dashboard.csv", "openai_usage")
    assert one(rows[3][1]) == Rejection(5, "input_tokens is not a number: 'n/a'")
    assert one(rows[4][1]) == Rejection(6, "input_cached_tokens 512 exceed input_tokens 100")
    assert one(rows[5][1]) == Rejection(7, "expected 19 CSV fields, found 4")


def test_usage_api_buckets_yield_one_row_per_result() -> None:
    buckets = read_outputs(HERE / "usage_api.json", "openai_usage")
    assert [(line, len(outputs)) for line, outputs in buckets] == [(6, 3), (52, 1), (58, 1)]  # where each bucket starts
    chat, batch, embeddings = buckets[0][1]
    assert isinstance(chat, RequestRecord) and isinstance(batch, RequestRecord) and isinstance(embeddings, RequestRecord)
    assert (chat.input_tokens, chat.cache_read_tokens, chat.output_tokens, chat.request_count) == (120_000, 64_000, 18_000, 340)
    assert (chat.ts, chat.is_batch, chat.endpoint, chat.api_key) == (MARCH_1, False, None, "key_123")
    assert (batch.is_batch, batch.input_tokens, batch.output_tokens) == (True, 2_000_000, 150_000)
    assert (embeddings.endpoint, embeddings.input_tokens, embeddings.output_tokens) == ("embeddings", 50_000, 0)
    assert len({chat.request_id, batch.request_id, embeddings.request_id}) == 3
    assert buckets[1][1] == [Skipped(52, "usage bucket with no results (no traffic in that period)")]
    assert buckets[2][1] == [Rejection(58, "result 1: output_tokens is negative: -3")]


def test_request_ids_are_deterministic_across_reads() -> None:
    first = [o.request_id for _, outs in read_outputs(HERE / "usage_api.json", "openai_usage") for o in outs if isinstance(o, RequestRecord)]
    again = [o.request_id for _, outs in read_outputs(HERE / "usage_api.json", "openai_usage") for o in outs if isinstance(o, RequestRecord)]
    assert first == again


def test_costs_csv_reports_usd_and_names_models() -> None:
    rows = read_outputs(HERE / "costs_dashboard.csv", "openai_costs")
    first, cached, search, euros = (one(outputs) for _, outputs in rows)
    assert isinstance(first, RequestRecord) and isinstance(cached, RequestRecord) and isinstance(search, RequestRecord)
    assert (first.cost_reported_usd, first.model, first.is_aggregate, first.request_count) == (12.345, "gpt-4o-2024-08-06", True, 0)
    assert (first.input_tokens, first.output_tokens, first.ts) == (0, 0, MARCH_1)
    assert first.metadata["line_item"] == "gpt-4o-2024-08-06, input"
    assert (cached.cost_reported_usd, cached.model) == (1.5, "gpt-4o-2024-08-06")
    assert (search.cost_reported_usd, search.model) == (0.25, None)
    assert first.request_id != cached.request_id
    assert euros == Rejection(5, "amount_currency is 'eur': only USD costs can be compared; export costs in USD")


def test_costs_api_buckets() -> None:
    (line, outputs), = read_outputs(HERE / "costs_api.json", "openai_costs")
    named, unnamed = outputs
    assert isinstance(named, RequestRecord) and isinstance(unnamed, RequestRecord)
    assert (line, named.cost_reported_usd, named.model, named.metadata["project_id"]) == (6, 0.06, "o3-mini-2025-01-31", "proj_abc")
    assert (unnamed.cost_reported_usd, unnamed.model, "line_item" in unnamed.metadata) == (3.5, None, False)


@pytest.mark.parametrize(
    ("line_item", "model"),
    [
        ("gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06"),
        ("o3-mini-2025-01-31, cached input", "o3-mini-2025-01-31"),
        ("text-embedding-3-small", "text-embedding-3-small"),
        ("web search tool calls", None),
        ("Assistants file search, storage", None),
        (None, None),
    ],
)
def test_model_from_line_item(line_item: str | None, model: str | None) -> None:
    assert model_from_line_item(line_item) == model


def test_usage_and_costs_do_not_claim_each_other() -> None:
    def sniffed(path: Path) -> tuple[int, int]:
        found = sample(SourceFile(name=path.name, path=path))
        return OpenAIUsageReader().sniff(found), OpenAICostsReader().sniff(found)

    assert sniffed(HERE / "usage_dashboard.csv") == (95, 0)
    assert sniffed(HERE / "costs_dashboard.csv") == (0, 95)
    assert sniffed(HERE / "usage_api.json") == (95, 0)
    assert sniffed(HERE / "costs_api.json") == (0, 95)
    assert sniffed(ASSETS / "openai_chat" / "bare_completions.json") == (0, 0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(asset_records(HERE / "usage_dashboard.csv") + asset_records(HERE / "usage_api.json")))
def test_junk_in_any_usage_field_never_raises(raw: dict) -> None:
    assert list(OpenAIUsageReader().parse(iter([(1, raw)])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records(asset_records(HERE / "costs_dashboard.csv") + asset_records(HERE / "costs_api.json")))
def test_junk_in_any_costs_field_never_raises(raw: dict) -> None:
    assert list(OpenAICostsReader().parse(iter([(1, raw)])))
