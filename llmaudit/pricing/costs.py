"""Prices every request: one lookup per unique (provider, model, day, mode), then columns.

A model whose price changes with the time of day (DeepSeek's off-peak hours) is looked up per
half hour of the request's time instead of per day. Long-context tiers apply to the whole
request when its total input crosses the threshold, as the providers bill them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from llmaudit import provider_rules
from llmaudit.pricing.exports import COVERED_BY_USAGE, mark_covered_costs
from llmaudit.pricing.resolver import MAX_TIERS, PRICE_FIELDS, PriceResolver


def price_mode(is_batch: pl.Expr, service_tier: pl.Expr) -> pl.Expr:
    """standard | batch | flex | priority, from the batch flag and the tier that served the request."""
    tier = service_tier.str.to_lowercase()
    return (
        pl.when(is_batch | (tier == "batch"))
        .then(pl.lit("batch"))
        .when(tier.is_in(list(provider_rules.FLEX_TIERS)))
        .then(pl.lit("flex"))
        .when(tier == "priority")
        .then(pl.lit("priority"))
        .otherwise(pl.lit("standard"))
    )


def _price_table(resolver: PriceResolver, keys: pl.DataFrame) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for provider, model, when, mode in keys.iter_rows():
        resolved = resolver.resolve(provider, model, when, mode) if model else None
        row: dict[str, Any] = {"provider": provider, "model": model, "price_at": when, "price_mode": mode}
        if resolved is not None:
            row.update(price_model=resolved.price_model, price_provider=resolved.price_provider,
                       price_source=resolved.source, price_note=resolved.note,
                       p_us_premium=provider_rules.anthropic_geo_premium(resolved.price_model),
                       p_audio_priced=resolved.base.audio_priced, p_output_priced=resolved.base.output_priced,
                       p_web_search_k=resolved.web_search_k)
            for name in PRICE_FIELDS:
                row[f"p_{name}"] = getattr(resolved.base, name)
            for index in range(MAX_TIERS):
                tier = resolved.tiers[index] if index < len(resolved.tiers) else None
                row[f"t{index}_start"] = tier[0] if tier else None
                for name in PRICE_FIELDS:
                    row[f"t{index}_{name}"] = getattr(tier[1], name) if tier else None
        rows.append(row)
    schema: dict[str, Any] = {
        "provider": pl.String, "model": pl.String, "price_at": pl.Datetime("us", "UTC"), "price_mode": pl.String,
        "price_model": pl.String, "price_provider": pl.String, "price_source": pl.String, "price_note": pl.String,
        **{f"p_{name}": pl.Float64 for name in PRICE_FIELDS}, "p_us_premium": pl.Float64,
        "p_audio_priced": pl.Boolean, "p_output_priced": pl.Boolean, "p_web_search_k": pl.Float64,
    }
    for index in range(MAX_TIERS):
        schema[f"t{index}_start"] = pl.Int64
        schema.update({f"t{index}_{name}": pl.Float64 for name in PRICE_FIELDS})
    return pl.DataFrame(rows, schema=schema)


PER_REQUEST_INPUT = pl.col("input_tokens") / pl.col("request_count").clip(lower_bound=1)
"""A request's total input; for a usage bucket (many requests in one row) the mean per request: tiers are per
request, never on the bucket's sum."""
NO_OUTPUT_PRICE_NOTE = ("genai-prices has an input price alone for the model (an embedding model): requests with"
                        " output tokens are left unpriced")
UNPRICED_SEARCH_NOTE = ("web searches not priced: genai-prices has no per-search price for the model (the request's"
                        " tokens are priced)")
AUDIO_AS_TEXT_NOTE = "audio tokens priced at the text rates: genai-prices has no audio price for the model"
AGGREGATE_TIER_NOTE = ("usage buckets of models with long-context prices: the tier is chosen on each bucket's mean"
                       " input per request (a bucket does not say which of its requests crossed the threshold)")


GEO_PREMIUM = pl.when(pl.col("inference_geo").str.to_lowercase().is_in(list(provider_rules.ANTHROPIC_GEO_PREMIUM))) \
    .then(pl.col("p_us_premium")).otherwise(1.0)
"""The multiplier for where the request ran (Claude 4.6+ US-only inference: 1.1)."""


def _tiered(name: str) -> pl.Expr:
    """The applicable price of one kind: the highest tier whose threshold the request's total input exceeds,
    times the regional premium."""
    expr = pl.col(f"p_{name}")
    for index in range(MAX_TIERS):
        expr = pl.when(pl.col(f"t{index}_start").is_not_null() & (PER_REQUEST_INPUT > pl.col(f"t{index}_start"))) \
            .then(pl.col(f"t{index}_{name}")).otherwise(expr)
    return expr * GEO_PREMIUM


def _with_note(notes: pl.Expr, where: pl.Expr, note: str) -> pl.Expr:
    """``notes`` with ``note`` added on the rows ``where`` holds."""
    return pl.when(where).then(pl.concat_str([notes, pl.lit(note)], separator="; ", ignore_nulls=True)).otherwise(notes)


def _price_time(requests: pl.DataFrame, resolver: PriceResolver, as_of: date | None, fallback_day: date) -> pl.Expr:
    """When each request is priced: noon of its day (of ``as_of``), or the start of its half hour for a model
    priced by the time of day (DeepSeek's off-peak hours start and end on the half hour)."""
    day = pl.lit(as_of, dtype=pl.Date) if as_of else pl.col("ts").dt.date().fill_null(fallback_day)
    noon = day.cast(pl.Datetime("us", "UTC")) + pl.duration(hours=12)
    if as_of is not None:
        return noon
    models = requests.select("provider", "model").unique().drop_nulls("model")
    timed = [(provider, model) for provider, model in models.iter_rows() if resolver.by_time_of_day(provider, model)]
    if not timed:
        return noon
    by_time = pl.struct("provider", "model").is_in(
        pl.DataFrame(timed, schema={"provider": pl.String, "model": pl.String}, orient="row").to_struct().implode())
    return pl.when(by_time & pl.col("ts").is_not_null()).then(pl.col("ts").dt.truncate("30m")).otherwise(noon)


def compute_costs(requests: pl.DataFrame, resolver: PriceResolver, as_of: date | None) -> pl.DataFrame:
    """Add price_model, price_provider, cost columns (cost_usd null when unpriced) and the applied
    unit prices ``unit_<kind>`` in USD per million tokens (after tier and batch rules)."""
    latest: datetime | None = requests.select(pl.col("ts").max()).item() if requests.height else None
    dated = latest is not None
    fallback_day = as_of or (latest.date() if latest is not None else datetime.now(UTC).date())
    keyed = mark_covered_costs(requests.with_columns(
        price_at=_price_time(requests, resolver, as_of, fallback_day),
        price_mode=price_mode(pl.col("is_batch"), pl.col("service_tier").fill_null("")),
    ))
    keys = keyed.select("provider", "model", "price_at", "price_mode").unique(maintain_order=True)
    prices = _price_table(resolver, keys)
    joined = keyed.join(prices, on=["provider", "model", "price_at", "price_mode"], how="left", nulls_equal=True)
    uncached = pl.col("input_tokens") - pl.col("cache_read_tokens") - pl.col("cache_write_tokens")
    # Audio is counted uncached (a cached audio token is billed at the text cache-read price).
    audio_in = pl.min_horizontal(pl.col("audio_input_tokens").fill_null(0), uncached.clip(lower_bound=0))
    audio_out = pl.col("audio_output_tokens").fill_null(0)
    write_5m = pl.col("cache_write_tokens") - pl.col("cache_write_1h_tokens")
    visible_output = pl.col("output_tokens") - pl.col("reasoning_tokens") - audio_out
    cost_in = ((uncached - audio_in) * _tiered("input") + audio_in * _tiered("input_audio")
               + pl.col("cache_read_tokens") * _tiered("cache_read") + write_5m * _tiered("cache_write")
               + pl.col("cache_write_1h_tokens") * _tiered("cache_write_1h")) / 1e6
    cost_out = (visible_output * _tiered("output") + pl.col("reasoning_tokens") * _tiered("reasoning")
                + audio_out * _tiered("output_audio")) / 1e6
    # Output a model has no price for is not free: such a request is unpriced, not priced at its input alone.
    unpriced_output = (pl.col("output_tokens") > 0) & ~pl.col("p_output_priced").fill_null(True)
    cost_out = pl.when(unpriced_output).then(None).otherwise(cost_out)
    # A provider-run web search is billed per search, on top of the tokens its results add to the prompt.
    searches = pl.col("web_search_requests").fill_null(0)
    cost_search = searches * pl.col("p_web_search_k").fill_null(0.0) / 1000
    undated = (f"requests without a timestamp (batch results, some exports) priced at the prices of {fallback_day}:"
               f" {'the latest request day of the run' if dated else 'today, as no request of the run has a time'}"
               " (--as-of sets the day)")
    row_notes = [
        (pl.col("is_aggregate") & (pl.col("request_count") > 1) & pl.col("t0_start").is_not_null(), AGGREGATE_TIER_NOTE),
        (pl.col("ts").is_null() & pl.lit(as_of is None), undated),
        ((audio_in + audio_out > 0) & ~pl.col("p_audio_priced").fill_null(True), AUDIO_AS_TEXT_NOTE),
        (unpriced_output, NO_OUTPUT_PRICE_NOTE),
        ((searches > 0) & pl.col("p_web_search_k").is_null() & pl.col("p_input").is_not_null(), UNPRICED_SEARCH_NOTE),
    ]
    notes = pl.col("price_note")
    for where, note in row_notes:
        notes = _with_note(notes, where, note)
    reported_only = pl.col("is_aggregate") & (pl.col("input_tokens") + pl.col("output_tokens") == 0) \
        & pl.col("cost_reported_usd").is_not_null()
    # A proxy's own cache answered these: the provider billed nothing for them.
    cached_by_proxy = pl.col("served_from_cache").fill_null(False)
    covered = pl.col("covered_by_usage")
    # A failure that used no token (a refused call, one that names no model) costs nothing, priced or not.
    unbilled = (pl.col("status") != "ok") & ~pl.col("is_aggregate") & (pl.col("input_tokens") == 0) \
        & (pl.col("output_tokens") == 0) & pl.col("p_input").is_null()
    priced = joined.with_columns(
        cost_input_usd=pl.when(cached_by_proxy | covered).then(0.0).otherwise(cost_in),
        cost_output_usd=pl.when(cached_by_proxy | covered).then(0.0).otherwise(cost_out),
        cost_web_search_usd=pl.when(cached_by_proxy | covered | pl.col("p_input").is_null()).then(0.0)
        .otherwise(cost_search),
        **{f"unit_{name}": _tiered(name) for name in PRICE_FIELDS},
        price_note=notes,
    ).with_columns(
        cost_usd=pl.when(covered | unbilled).then(0.0).when(reported_only).then(pl.col("cost_reported_usd")).otherwise(
            pl.col("cost_input_usd") + pl.col("cost_output_usd") + pl.col("cost_web_search_usd")
        ),
        cost_source=pl.when(covered).then(pl.lit(COVERED_BY_USAGE)).when(unbilled).then(pl.lit("failed_no_tokens"))
        .when(reported_only).then(pl.lit("reported"))
        .when(cached_by_proxy).then(pl.lit("proxy_cache"))
        .when(pl.col("p_input").is_null() | unpriced_output).then(pl.lit("unpriced")).otherwise(pl.lit("computed")),
    )
    drop = [c for c in prices.columns if c.startswith(("p_", "t0_", "t1_"))] + ["price_at", "covered_by_usage"]
    return priced.drop(drop)
