"""Pricing: cache reads and writes (5 min, 1 h), reasoning, tiers, batch, historic prices, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from llmaudit.errors import ConfigError
from llmaudit.ingest.records import RequestRecord
from llmaudit.pricing.costs import compute_costs
from llmaudit.pricing.overrides import load_price_overrides
from llmaudit.pricing.report import pricing_report
from llmaudit.pricing.resolver import PriceResolver
from llmaudit.table import TableBuilder

DAY = datetime(2025, 9, 15, 12, tzinfo=UTC)


def priced(*records: RequestRecord, resolver: PriceResolver | None = None, as_of: date | None = None) -> pl.DataFrame:
    builder = TableBuilder()
    for index, record in enumerate(records):
        record.request_id = record.request_id or f"r{index}"
        builder.add(record, "test", "test.jsonl")
    return compute_costs(builder.requests_frame(), resolver or PriceResolver(), as_of)


def cost_of(record: RequestRecord, **kwargs) -> float:
    return priced(record, **kwargs).get_column("cost_usd").item()


def req(model: str, provider: str | None, **tokens) -> RequestRecord:
    return RequestRecord(source_line=1, ts=tokens.pop("ts", DAY), model=model, provider=provider, **tokens)


def test_anthropic_cache_reads_and_both_write_ttls() -> None:
    # claude-sonnet-4-5: $3 in, $15 out, reads 0.1x = $0.30, 5m writes 1.25x = $3.75, 1h writes 2x = $6.
    record = req("claude-sonnet-4-5-20250929", "anthropic", input_tokens=10_000, cache_read_tokens=6_000,
                 cache_write_tokens=3_000, cache_write_1h_tokens=1_000, output_tokens=500)
    uncached = 10_000 - 6_000 - 3_000
    expected = (uncached * 3 + 6_000 * 0.30 + 2_000 * 3.75 + 1_000 * 6 + 500 * 15) / 1e6
    assert cost_of(record) == pytest.approx(expected, rel=1e-12)


def test_long_context_tier_bills_whole_request() -> None:
    # Sonnet 4.5 above 200k input: $6 in, $22.50 out for the whole request.
    record = req("claude-sonnet-4-5", "anthropic", input_tokens=250_000, output_tokens=1_000)
    assert cost_of(record) == pytest.approx((250_000 * 6 + 1_000 * 22.5) / 1e6, rel=1e-12)
    below = req("claude-sonnet-4-5", "anthropic", input_tokens=200_000, output_tokens=1_000)
    assert cost_of(below) == pytest.approx((200_000 * 3 + 1_000 * 15) / 1e6, rel=1e-12)


def test_openai_cached_subset_and_reasoning_inside_output() -> None:
    # gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out; reasoning is billed as output.
    record = req("gpt-4o-mini", "openai", input_tokens=2_048, cache_read_tokens=1_024, output_tokens=300, reasoning_tokens=100)
    assert cost_of(record) == pytest.approx((1_024 * 0.15 + 1_024 * 0.075 + 300 * 0.6) / 1e6, rel=1e-12)


def test_batch_discount_and_pre_gpt5_cached_rate() -> None:
    # gpt-4.1: $2 in, $0.50 cached, $8 out. Batch halves everything; cached input in batch is billed
    # at the batch input rate ($1), since pre-GPT-5 batch has no cache discount.
    record = req("gpt-4.1", "openai", input_tokens=4_000, cache_read_tokens=2_000, output_tokens=1_000, is_batch=True)
    assert cost_of(record) == pytest.approx((2_000 * 1.0 + 2_000 * 1.0 + 1_000 * 4.0) / 1e6, rel=1e-12)
    flex = req("gpt-4.1", "openai", input_tokens=4_000, output_tokens=1_000, service_tier="flex")
    assert cost_of(flex) == pytest.approx((4_000 * 1.0 + 1_000 * 4.0) / 1e6, rel=1e-12)


def test_anthropic_batch_stacks_with_cache_multipliers() -> None:
    record = req("claude-sonnet-4-5", "anthropic", input_tokens=3_000, cache_read_tokens=2_000, output_tokens=100, is_batch=True)
    assert cost_of(record) == pytest.approx((1_000 * 1.5 + 2_000 * 0.15 + 100 * 7.5) / 1e6, rel=1e-12)


def test_historic_price_and_as_of() -> None:
    # o3 cost $10/$40 until 2025-06-10, then $2/$8.
    old = req("o3", "openai", input_tokens=1_000, output_tokens=1_000, ts=datetime(2025, 5, 1, tzinfo=UTC))
    assert cost_of(old) == pytest.approx((1_000 * 10 + 1_000 * 40) / 1e6, rel=1e-12)
    repriced = req("o3", "openai", input_tokens=1_000, output_tokens=1_000, ts=datetime(2025, 5, 1, tzinfo=UTC))
    assert cost_of(repriced, as_of=date(2025, 7, 1)) == pytest.approx((1_000 * 2 + 1_000 * 8) / 1e6, rel=1e-12)


def test_unknown_model_is_listed_not_zero() -> None:
    frame = priced(req("acme-llama-70b-ft", None, input_tokens=500, output_tokens=50),
                   req("gpt-4o-mini", "openai", input_tokens=100, output_tokens=10))
    report = pricing_report(frame, None)
    assert [m.model for m in report.unknown_models] == ["acme-llama-70b-ft"]
    assert report.unknown_models[0].input_tokens == 500
    assert frame.filter(pl.col("model") == "acme-llama-70b-ft").get_column("cost_usd").item() is None


def test_price_override_file(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."acme-llama-70b-ft"]\ninput_mtok = 0.9\noutput_mtok = 1.8\n\n'
                      '[models."gpt-4o-mini"]\ninput_mtok = 0.1\noutput_mtok = 0.4\ncache_read_mtok = 0.05\n')
    resolver = PriceResolver(load_price_overrides(prices))
    assert cost_of(req("acme-llama-70b-ft", None, input_tokens=1_000, output_tokens=100), resolver=resolver) == pytest.approx(
        (1_000 * 0.9 + 100 * 1.8) / 1e6)
    assert cost_of(req("gpt-4o-mini", "openai", input_tokens=1_000, cache_read_tokens=500, output_tokens=100),
                   resolver=resolver) == pytest.approx((500 * 0.1 + 500 * 0.05 + 100 * 0.4) / 1e6)


@pytest.mark.parametrize("text", ["[models.x]\ninput_mtok = 1\n", "[models.x]\ninput_mtok='a'\noutput_mtok=1\n", "not toml ["])
def test_bad_price_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(text)
    with pytest.raises(ConfigError):
        load_price_overrides(prices)


def test_reported_cost_disagreement() -> None:
    agree = req("gpt-4o-mini", "openai", input_tokens=1_000, output_tokens=100, cost_reported_usd=0.00021)
    differ = req("gpt-4o-mini", "openai", input_tokens=1_000, output_tokens=100, cost_reported_usd=0.0003)
    frame = priced(agree, differ)
    report = pricing_report(frame, None)
    assert report.compared_requests == 2
    assert report.disagreements == 1
    assert report.disagreement_examples[0].reported_usd == 0.0003
    assert report.reported_cost_usd == pytest.approx(0.00051)


def test_proxy_cache_hits_cost_nothing() -> None:
    hit = req("gpt-4o-mini", "openai", input_tokens=1_000, output_tokens=100, cost_reported_usd=0.0)
    hit.served_from_cache = True
    frame = priced(hit)
    assert frame.get_column("cost_usd").item() == 0.0
    assert frame.get_column("cost_source").item() == "proxy_cache"
    assert pricing_report(frame, None).disagreements == 0


def test_openai_priority_premium_from_the_pricing_page() -> None:
    # gpt-5 priority = 2x standard ($2.50 in, $0.25 cached, $20 out); gpt-4o-mini's premium is not documented.
    tokens = {"input_tokens": 100_000, "cache_read_tokens": 40_000, "output_tokens": 10_000, "service_tier": "priority"}
    assert cost_of(req("gpt-5-2025-08-07", "openai", **tokens)) == \
        pytest.approx((60_000 * 2.5 + 40_000 * 0.25 + 10_000 * 20) / 1e6, rel=1e-12)
    frame = priced(req("gpt-4o-mini", "openai", **tokens))
    assert frame.get_column("cost_usd").item() == pytest.approx((60_000 * 0.15 + 40_000 * 0.075 + 10_000 * 0.6) / 1e6)
    assert "priority tier priced at standard rates" in frame.get_column("price_note").item()


def test_flex_is_batch_rates_with_the_cache_discount_kept() -> None:
    # o4-mini flex: $0.55 in, $0.1375 cached (half of $0.275), $2.20 out; batch would bill cached at $0.55.
    record = req("o4-mini-2025-04-16", "openai", input_tokens=100_000, cache_read_tokens=40_000, output_tokens=10_000,
                 service_tier="flex", ts=datetime(2025, 6, 15, 12, tzinfo=UTC))
    assert cost_of(record) == pytest.approx((60_000 * 0.55 + 40_000 * 0.1375 + 10_000 * 2.2) / 1e6, rel=1e-12)


def test_documented_cached_share_wins_over_a_contradicting_dated_price() -> None:
    # o3 at launch (April 2025): $10 in, $40 out, cached 75% off = $2.50 (genai-prices has $0.50 for that date).
    record = req("o3-2025-04-16", "openai", input_tokens=100_000, cache_read_tokens=40_000, output_tokens=5_000,
                 reasoning_tokens=4_000, ts=datetime(2025, 4, 30, 12, tzinfo=UTC))
    frame = priced(record)
    assert frame.get_column("cost_usd").item() == pytest.approx((60_000 * 10 + 40_000 * 2.5 + 5_000 * 40) / 1e6, rel=1e-12)
    assert "as OpenAI documents" in frame.get_column("price_note").item()


def test_sonnet_4_long_context_tier_when_genai_prices_has_none() -> None:
    # Sonnet 4 above 200k input (reads and writes included): 2x input prices, 1.5x output, for the whole request.
    record = req("claude-sonnet-4-20250514", "anthropic", input_tokens=210_000, cache_read_tokens=150_000,
                 cache_write_tokens=10_000, output_tokens=2_000)
    assert cost_of(record) == pytest.approx((50_000 * 6 + 150_000 * 0.6 + 10_000 * 7.5 + 2_000 * 22.5) / 1e6, rel=1e-12)


def test_claude_one_hour_writes_cost_twice_input_whoever_serves_it() -> None:
    # Claude Opus 4.1 on Vertex: $15 in; 1h writes 2x = $30 (not the 5-minute $18.75).
    record = req("claude-opus-4-1@20250805", "vertex_ai", input_tokens=30_000, cache_write_tokens=20_000,
                 cache_write_1h_tokens=20_000, output_tokens=0)
    assert cost_of(record) == pytest.approx((10_000 * 15 + 20_000 * 30) / 1e6, rel=1e-12)


def test_long_context_tier_is_per_request_in_a_usage_bucket() -> None:
    # 100 gpt-5.4 requests of 10k input each in one usage row: base price ($2.50 / $15), though the sum is 1M.
    bucket = req("gpt-5.4-2026-03-05", "openai", input_tokens=1_000_000, output_tokens=100_000, request_count=100,
                 is_aggregate=True, ts=datetime(2026, 4, 1, tzinfo=UTC))
    frame = priced(bucket)
    assert frame.get_column("cost_usd").item() == pytest.approx((1_000_000 * 2.5 + 100_000 * 15) / 1e6, rel=1e-12)
    assert "mean input per request" in frame.get_column("price_note").item()
    # One request of 300k in a bucket of one crosses the 272k threshold.
    single = req("gpt-5.4-2026-03-05", "openai", input_tokens=300_000, output_tokens=1_000, request_count=1,
                 is_aggregate=True, ts=datetime(2026, 4, 1, tzinfo=UTC))
    assert cost_of(single) == pytest.approx((300_000 * 5 + 1_000 * 22.5) / 1e6, rel=1e-12)


def test_a_request_without_a_time_says_which_day_priced_it() -> None:
    dated = req("claude-opus-4-6", "anthropic", input_tokens=1_000, output_tokens=10, ts=datetime(2026, 2, 20, tzinfo=UTC))
    undated = req("claude-opus-4-6", "anthropic", input_tokens=1_000, output_tokens=10, ts=None)
    notes = priced(dated, undated).get_column("price_note").to_list()
    assert notes[0] is None
    assert "prices of 2026-02-20: the latest request day of the run" in notes[1]
    assert priced(undated, as_of=date(2026, 3, 1)).get_column("price_note").item() is None


def test_us_only_inference_costs_a_tenth_more_on_claude_4_6_and_later() -> None:
    # Opus 4.6: $5 in, $25 out; inference_geo "us" = 1.1x every price. Sonnet 4.5 predates the premium.
    us = req("claude-opus-4-6", "anthropic", input_tokens=100_000, output_tokens=10_000, inference_geo="us")
    assert cost_of(us) == pytest.approx((100_000 * 5 + 10_000 * 25) * 1.1 / 1e6, rel=1e-12)
    anywhere = req("claude-opus-4-6", "anthropic", input_tokens=100_000, output_tokens=10_000, inference_geo="global")
    assert cost_of(anywhere) == pytest.approx((100_000 * 5 + 10_000 * 25) / 1e6, rel=1e-12)
    older = req("claude-sonnet-4-5", "anthropic", input_tokens=100_000, output_tokens=10_000, inference_geo="us")
    assert cost_of(older) == pytest.approx((100_000 * 3 + 10_000 * 15) / 1e6, rel=1e-12)


def test_audio_tokens_at_the_audio_prices() -> None:
    # gpt-realtime: text $4 in / $16 out, audio $32 in / $64 out, cached $0.40.
    record = req("gpt-realtime", "openai", input_tokens=10_000, cache_read_tokens=2_000, audio_input_tokens=6_000,
                 output_tokens=3_000, audio_output_tokens=2_500)
    expected = (2_000 * 4 + 6_000 * 32 + 2_000 * 0.4 + 500 * 16 + 2_500 * 64) / 1e6
    assert cost_of(record) == pytest.approx(expected, rel=1e-12)
    # gpt-4o-audio-preview has no audio price in genai-prices: text rates, and a note says so.
    frame = priced(req("gpt-4o-audio-preview", "openai", input_tokens=1_000, audio_input_tokens=800, output_tokens=10))
    assert "audio tokens priced at the text rates" in frame.get_column("price_note").item()


def test_a_costs_export_is_not_added_to_the_usage_export_of_the_same_days() -> None:
    day = datetime(2025, 10, 1, tzinfo=UTC)
    builder = TableBuilder()
    usage = req("gpt-4o-2024-08-06", "openai", request_id="u1", input_tokens=100_000, cache_read_tokens=50_000,
                output_tokens=10_000, request_count=10, is_aggregate=True, ts=day)
    builder.add(usage, "openai_usage", "usage.csv")
    for number, (item, amount) in enumerate([("gpt-4o-2024-08-06, input", 0.1875), ("gpt-4o-2024-08-06, output", 0.1),
                                             ("web search tool calls", 0.05)]):
        model = item.split(",")[0] if "," in item else None
        line = req(model, "openai", request_id=f"c{number}", input_tokens=0, output_tokens=0, cost_reported_usd=amount,
                   request_count=0, is_aggregate=True, ts=day)
        builder.add(line, "openai_costs", "costs.csv")
    later = req("gpt-4o-2024-08-06", "openai", request_id="c9", input_tokens=0, output_tokens=0, cost_reported_usd=0.3,
                request_count=0, is_aggregate=True, ts=datetime(2025, 10, 2, tzinfo=UTC))
    builder.add(later, "openai_costs", "costs.csv")
    frame = compute_costs(builder.requests_frame(), PriceResolver(), None)
    # Usage tokens: 50k x $2.50 + 50k x $1.25 + 10k x $10 = $0.2875; the tool line item and the day without usage count.
    assert frame.get_column("cost_usd").sum() == pytest.approx(0.2875 + 0.05 + 0.3, rel=1e-12)
    assert frame.get_column("cost_source").to_list().count("covered_by_usage") == 2
    notes = pricing_report(frame, None).notes
    assert any("2 line items of the OpenAI costs export ($0.29)" in note and "(+0.0%)" in note for note in notes)


def test_time_of_day_prices_follow_the_request_time() -> None:
    # deepseek-chat in genai-prices: $0.27 in / $1.10 out from 00:30 to 16:30 UTC, $0.135 / $0.55 off-peak.
    def at(hour: int, minute: int) -> float:
        return cost_of(req("deepseek-chat", "deepseek", input_tokens=1_000_000, output_tokens=100_000,
                           ts=datetime(2025, 6, 1, hour, minute, tzinfo=UTC)))

    assert at(18, 0) == pytest.approx(0.135 + 0.055, rel=1e-12)
    assert at(12, 0) == pytest.approx(0.27 + 0.11, rel=1e-12)
    assert at(16, 29) == pytest.approx(0.27 + 0.11, rel=1e-12)
    assert at(16, 30) == pytest.approx(0.135 + 0.055, rel=1e-12)
    assert at(0, 15) == pytest.approx(0.135 + 0.055, rel=1e-12)


def test_embedding_models_bill_their_input_and_output_they_have_no_price_for_is_unpriced() -> None:
    # text-embedding-3-large: $0.13 per million input tokens, no output price (embeddings return vectors).
    embedded = priced(req("text-embedding-3-large", "openai", input_tokens=100_000_000, output_tokens=0))
    assert embedded.get_column("cost_usd").item() == pytest.approx(13.0, rel=1e-12)
    assert embedded.get_column("cost_source").item() == "computed"
    odd = priced(req("text-embedding-3-small", "openai", input_tokens=1_000, output_tokens=10))
    assert odd.get_column("cost_usd").item() is None  # output the model has no price for is not free
    assert odd.get_column("cost_source").item() == "unpriced"
    report = pricing_report(odd, None)
    assert report.unknown_models == []  # a known model: its note says why this request is unpriced
    assert any("input price alone" in note for note in report.notes)


def test_web_searches_are_billed_per_search_at_the_standard_price_in_batch_too() -> None:
    # Anthropic's web search: $10 per 1,000 searches on top of the tokens; no batch rate is published for it.
    tokens = (10_000 * 3 + 1_000 * 15) / 1e6
    searching = req("claude-sonnet-4-5", "anthropic", input_tokens=10_000, output_tokens=1_000, web_search_requests=5)
    frame = priced(searching)
    assert frame.get_column("cost_usd").item() == pytest.approx(tokens + 0.05, rel=1e-12)
    assert frame.get_column("cost_web_search_usd").item() == pytest.approx(0.05, rel=1e-12)
    in_batch = req("claude-sonnet-4-5", "anthropic", input_tokens=10_000, output_tokens=1_000, web_search_requests=5,
                   is_batch=True)
    assert cost_of(in_batch) == pytest.approx(tokens / 2 + 0.05, rel=1e-12)
    # A model genai-prices gives no search price: its tokens are priced, and a note says the searches are not.
    old = priced(req("claude-3-haiku-20240307", "anthropic", input_tokens=1_000, output_tokens=100, web_search_requests=2))
    assert old.get_column("cost_usd").item() == pytest.approx((1_000 * 0.25 + 100 * 1.25) / 1e6, rel=1e-12)
    assert "web searches not priced" in old.get_column("price_note").item()


def test_a_failure_without_tokens_or_model_costs_nothing_and_is_not_an_unknown_model() -> None:
    failed = req(None, "google", input_tokens=0, output_tokens=0, status="error")  # type: ignore[arg-type]
    frame = priced(failed, req("gpt-4o-mini", "openai", input_tokens=1_000, output_tokens=0))
    row = frame.filter(pl.col("status") == "error")
    assert (row.get_column("cost_usd").item(), row.get_column("cost_source").item()) == (0.0, "failed_no_tokens")
    assert pricing_report(frame, None).unknown_models == []
    # A failure billed for its tokens keeps its price, and an unknown model with tokens stays unknown.
    assert priced(req("house-model", "acme", input_tokens=10, output_tokens=0, status="error")) \
        .get_column("cost_source").item() == "unpriced"
