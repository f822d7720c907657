"""Prices every request: one genai-prices lookup per unique (provider, model, day, mode), then columns.

A model whose price changes with the time of day (DeepSeek's off-peak hours) is looked up per
half hour of the request's time instead of per day.

Modes: ``standard``, ``batch`` (the provider's batch discount, which genai-prices lacks for
most dates, applied here), ``flex`` (batch rates, cached input keeping its discount) and
``priority`` (genai-prices' priority variant, else OpenAI's documented premium). Where
genai-prices contradicts a documented rule (a cached-input share, a long-context tier) the
documented rule wins and the pricing notes say so. Long-context tiers apply to the whole request when its total
input crosses the threshold, as the providers bill them.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import polars as pl
from genai_prices import data_snapshot
from genai_prices.types import ModelPrice, TieredPrices, TimeOfDateConstraint

from llmaudit import provider_rules
from llmaudit.errors import ConfigError
from llmaudit.sums import exact_sum, series_sum

PRICE_FIELDS = ("input", "cache_read", "cache_write", "cache_write_1h", "output", "reasoning", "input_audio",
                "output_audio")
MAX_TIERS = 2
DISAGREEMENT_RATIO = 0.01
MAX_LISTED_DISAGREEMENTS = 50
MODE_CONTEXT: dict[str, dict[str, str]] = {
    "batch": {"processing": "batch"}, "flex": {"service_tier": "flex"}, "priority": {"service_tier": "priority"},
}
"""genai-prices' context for a price mode's own variant (used when it has one for the model and date)."""


@dataclass(frozen=True)
class UnitPrices:
    """USD per million tokens for each token kind."""

    input: float
    cache_read: float
    cache_write: float
    cache_write_1h: float
    output: float
    reasoning: float
    input_audio: float
    """Uncached audio input (the text input price when the model has no audio price)."""
    output_audio: float
    audio_priced: bool = False
    """True when the audio prices are the model's own, not the text prices standing in."""

    def scaled(self, factor: float, *, cache_read: float | None = None) -> UnitPrices:
        """Every price times ``factor`` (batch), optionally with a cache-read price of its own."""
        return UnitPrices(
            input=self.input * factor,
            cache_read=self.cache_read * factor if cache_read is None else cache_read,
            cache_write=self.cache_write * factor,
            cache_write_1h=self.cache_write_1h * factor,
            output=self.output * factor,
            reasoning=self.reasoning * factor,
            input_audio=self.input_audio * factor,
            output_audio=self.output_audio * factor,
            audio_priced=self.audio_priced,
        )


@dataclass(frozen=True)
class ResolvedPrice:
    """The prices that apply to one (provider, model, day, mode)."""

    price_model: str
    price_provider: str
    source: str
    base: UnitPrices
    tiers: tuple[tuple[int, UnitPrices], ...] = ()
    """(threshold on total input tokens, prices for the whole request above it)."""
    note: str | None = None


@dataclass(frozen=True)
class PriceOverride:
    """A user price for a model (negotiated rate, self-hosted model)."""

    model: str
    provider: str
    input_mtok: float
    output_mtok: float
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None
    cache_write_1h_mtok: float | None = None


def load_price_overrides(path: Path) -> dict[str, PriceOverride]:
    """Read a TOML or JSON price file: ``[models."name"] input_mtok = .., output_mtok = ..``."""
    try:
        raw_text = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw_text) if path.suffix.lower() == ".toml" else json.loads(raw_text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read price file: {exc}") from exc
    models = data.get("models", data) if isinstance(data, dict) else None
    if not isinstance(models, dict) or not models:
        raise ConfigError(f"{path}: expected a 'models' table mapping model names to prices")
    overrides: dict[str, PriceOverride] = {}
    for name, entry in models.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: models.{name} must be a table of prices")
        try:
            override = PriceOverride(
                model=str(name),
                provider=str(entry.get("provider", "custom")),
                input_mtok=float(entry["input_mtok"]),
                output_mtok=float(entry["output_mtok"]),
                cache_read_mtok=_opt_float(entry.get("cache_read_mtok")),
                cache_write_mtok=_opt_float(entry.get("cache_write_mtok")),
                cache_write_1h_mtok=_opt_float(entry.get("cache_write_1h_mtok")),
            )
        except KeyError as exc:
            raise ConfigError(f"{path}: models.{name} lacks {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: models.{name} has a non-numeric price: {exc}") from None
        if min(override.input_mtok, override.output_mtok) < 0:
            raise ConfigError(f"{path}: models.{name} has a negative price")
        overrides[str(name).lower()] = override
    return overrides


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _base_and_tiers(value: Any) -> tuple[float | None, list[tuple[int, float]]]:
    if value is None:
        return None, []
    if isinstance(value, TieredPrices):
        return float(value.base), [(tier.start, float(tier.price)) for tier in value.tiers]
    if isinstance(value, Decimal | int | float):
        return float(value), []
    return None, []


def _unit_prices(model_price: ModelPrice, provider: str, model_id: str, tier_index: int | None) -> UnitPrices | None:
    """Unit prices from a genai-prices ModelPrice, at its base rate or one of its tiers; a Claude model's
    missing cache prices from Anthropic's multipliers, whoever serves it."""

    def pick(key: str) -> float | None:
        base, tiers = _base_and_tiers(getattr(model_price, key, None))
        if base is None:
            return None
        if tier_index is None or tier_index >= len(tiers):
            return base
        return tiers[tier_index][1]

    input_price = pick("input_mtok")
    output_price = pick("output_mtok")
    if input_price is None or output_price is None:
        return None
    anthropic = provider in ("anthropic", "aws") or provider_rules.anthropic_model_key(model_id) is not None
    cache_read = pick("cache_read_mtok")
    cache_write = pick("cache_write_mtok")
    cache_write_1h = pick("cache_write_1h_mtok")
    if cache_read is None:
        cache_read = input_price * provider_rules.ANTHROPIC_CACHE_READ if anthropic else input_price
    if cache_write is None:
        cache_write = input_price * provider_rules.ANTHROPIC_CACHE_WRITE_5M if anthropic else input_price
    if cache_write_1h is None:
        cache_write_1h = input_price * provider_rules.ANTHROPIC_CACHE_WRITE_1H if anthropic else cache_write
    reasoning = pick("output_reasoning_mtok")
    input_audio, output_audio = pick("input_audio_mtok"), pick("output_audio_mtok")
    return UnitPrices(input_price, cache_read, cache_write, cache_write_1h, output_price,
                      output_price if reasoning is None else reasoning,
                      input_price if input_audio is None else input_audio, output_price if output_audio is None else output_audio,
                      audio_priced=input_audio is not None or output_audio is not None)


def _thresholds(model_price: ModelPrice) -> list[int]:
    _, tiers = _base_and_tiers(getattr(model_price, "input_mtok", None))
    return [start for start, _ in tiers][:MAX_TIERS]


def _lookup_candidates(provider: str | None, model: str) -> list[tuple[str | None, str]]:
    """Ways to ask genai-prices for a logged model id, most specific first."""
    name = model.strip()
    out: list[tuple[str | None, str]] = [(provider, name)]
    if "/" in name:
        prefix, rest = name.split("/", 1)
        out += [(prefix, rest), (provider, rest), (None, rest)]
        if "/" in rest:
            out.append((None, rest.rsplit("/", 1)[-1]))
    bedrock = name.rsplit("/", 1)[-1]
    if bedrock.count(".") >= 1 and ("anthropic." in bedrock or "amazon." in bedrock or "meta." in bedrock):
        out.append(("aws", bedrock))
        stripped = bedrock.split(".", 2)[-1] if bedrock.split(".")[0] in ("us", "eu", "apac", "global") else bedrock.split(".", 1)[-1]
        stripped = stripped.split(":")[0]
        for suffix in ("-v1", "-v2"):
            stripped = stripped.removesuffix(suffix)
        out.append((None, stripped))
    out.append((None, name))
    seen: list[tuple[str | None, str]] = []
    for item in out:
        if item not in seen:
            seen.append(item)
    return seen


@dataclass
class PriceResolver:
    """Resolves (provider, model, time, mode) to prices, once each."""

    overrides: dict[str, PriceOverride] = field(default_factory=dict)
    cache: dict[tuple[str | None, str, datetime, str], ResolvedPrice | None] = field(default_factory=dict)

    def resolve(self, provider: str | None, model: str, when: datetime, mode: str) -> ResolvedPrice | None:
        """Prices at one time, or None when the model is unknown to genai-prices and the overrides."""
        key = (provider, model, when, mode)
        if key not in self.cache:
            self.cache[key] = self._resolve(provider, model, when, mode)
        return self.cache[key]

    def by_time_of_day(self, provider: str | None, model: str) -> bool:
        """True when the model's price depends on the time of day, not only on the date."""
        if self.overrides.get(model.lower()) or self.overrides.get(model.lower().rsplit("/", 1)[-1]):
            return False
        found = self._find(provider, model)
        prices = found[1].prices if found is not None else None
        return isinstance(prices, list) and any(isinstance(p.constraint, TimeOfDateConstraint) for p in prices)

    def _resolve(self, provider: str | None, model: str, when: datetime, mode: str) -> ResolvedPrice | None:
        override = self.overrides.get(model.lower()) or self.overrides.get(model.lower().rsplit("/", 1)[-1])
        if override is not None:
            cache_write = override.input_mtok if override.cache_write_mtok is None else override.cache_write_mtok
            base = UnitPrices(
                input=override.input_mtok,
                cache_read=override.input_mtok if override.cache_read_mtok is None else override.cache_read_mtok,
                cache_write=cache_write,
                cache_write_1h=cache_write if override.cache_write_1h_mtok is None else override.cache_write_1h_mtok,
                output=override.output_mtok,
                reasoning=override.output_mtok,
                input_audio=override.input_mtok,
                output_audio=override.output_mtok,
            )
            return ResolvedPrice(override.model, override.provider, "override", base)
        found = self._find(provider, model)
        if found is None:
            return None
        gp_provider, model_info = found
        standard = model_info.get_prices(when)
        context = MODE_CONTEXT.get(mode)
        variant = model_info.get_prices(when, context) if context else standard
        has_variant = context is not None and variant != standard
        prices = variant if has_variant else standard
        gp, model_id = gp_provider.id, model_info.id
        base_prices = _unit_prices(prices, gp, model_id, None)
        if base_prices is None:
            return None
        base = base_prices
        tiers = tuple(
            (start, tier_prices)
            for index, start in enumerate(_thresholds(prices))
            if (tier_prices := _unit_prices(prices, gp, model_id, index)) is not None
        )
        notes = []
        if (cached := _documented_cache_read(gp, model_id, prices, base)) is not None:
            notes.append(f"{model_id}: cached input priced at {cached / base.input:.0%} of input as OpenAI documents"
                         f" (genai-prices has ${base.cache_read:g}/MTok against ${base.input:g} input on {when.date()})")
            base = replace(base, cache_read=cached)
        if not tiers:
            tiers = _documented_long_context(model_id, base)
        if mode == "batch" and not has_variant:
            base, tiers = self._batch(gp, model_id, base, tiers)
        elif mode == "flex" and not has_variant:
            # Flex is priced at batch rates, cached input keeping its discount (unlike pre-GPT-5 batch).
            discount = provider_rules.BATCH_DISCOUNT.get(gp, 0.5)
            base, tiers = base.scaled(discount), tuple((start, p.scaled(discount)) for start, p in tiers)
        elif mode == "priority" and not has_variant:
            premium = provider_rules.openai_priority_multiplier(model_id) if gp in ("openai", "azure") else None
            if premium is None:
                notes.append("priority tier priced at standard rates: neither genai-prices nor the provider's pricing"
                             " page gives a priority price for this model and date")
            else:
                base = base.scaled(premium)  # long-context requests keep the standard long-context price
        source = f"genai-prices {genai_prices.__version__}"
        return ResolvedPrice(model_id, gp, source, base, tiers, "; ".join(notes) or None)

    @staticmethod
    def _batch(
        provider: str, model_id: str, base: UnitPrices, tiers: tuple[tuple[int, UnitPrices], ...]
    ) -> tuple[UnitPrices, tuple[tuple[int, UnitPrices], ...]]:
        factor = provider_rules.BATCH_DISCOUNT.get(provider, 0.5)

        def apply(prices: UnitPrices) -> UnitPrices:
            if provider in ("openai", "azure") and not provider_rules.openai_batch_cache_read_is_discounted(model_id):
                # Pre-GPT-5 batch: cached input gets no cache discount, it is billed at the batch input rate.
                return prices.scaled(factor, cache_read=prices.input * factor)
            return prices.scaled(factor)

        return apply(base), tuple((start, apply(p)) for start, p in tiers)

    @staticmethod
    def _find(provider: str | None, model: str) -> tuple[Any, Any] | None:
        snapshot = data_snapshot.get_snapshot()
        for provider_id, ref in _lookup_candidates(provider, model):
            try:
                return snapshot.find_provider_model(ref, None, provider_id, None)
            except LookupError:
                continue
        return None


def _documented_cache_read(provider: str, model_id: str, prices: ModelPrice, base: UnitPrices) -> float | None:
    """OpenAI's documented cached price, when genai-prices has a cached price for the date that contradicts it
    (o3's launch price: $0.50 cached against $10 input, where OpenAI documents 75% off)."""
    share = provider_rules.openai_cache_read_multiplier(model_id) if provider in ("openai", "azure") else None
    if share is None or prices.cache_read_mtok is None:
        return None
    documented = base.input * share
    return documented if abs(documented - base.cache_read) > 1e-9 * max(base.input, 1.0) else None


def _documented_long_context(model_id: str, base: UnitPrices) -> tuple[tuple[int, UnitPrices], ...]:
    """The whole-request long-context tier Anthropic documents for a Claude model genai-prices has no tier for."""
    rule = provider_rules.ANTHROPIC_LONG_CONTEXT.get(provider_rules.anthropic_model_key(model_id) or "")
    if rule is None:
        return ()
    threshold, input_factor, output_factor = rule
    return ((threshold, UnitPrices(
        input=base.input * input_factor, cache_read=base.cache_read * input_factor,
        cache_write=base.cache_write * input_factor, cache_write_1h=base.cache_write_1h * input_factor,
        output=base.output * output_factor, reasoning=base.reasoning * output_factor,
        input_audio=base.input_audio * input_factor, output_audio=base.output_audio * output_factor,
        audio_priced=base.audio_priced)),)


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


@dataclass(frozen=True)
class UnknownModel:
    """A model no price was found for: never counted as $0 silently."""

    model: str
    provider: str | None
    requests: int
    input_tokens: int
    output_tokens: int
    reported_cost_usd: float | None


@dataclass(frozen=True)
class CostDisagreement:
    """A request whose logged cost differs from the computed one by more than 1%."""

    request_id: str
    file: str
    line: int
    model: str | None
    reported_usd: float
    computed_usd: float


@dataclass(frozen=True)
class PricingReport:
    """How the run was priced, and where prices are missing or disagree with the logs."""

    source: str
    version: str
    rules_version: str
    as_of: str | None
    unknown_models: list[UnknownModel]
    notes: list[str]
    reported_cost_usd: float | None
    computed_cost_usd: float | None
    compared_requests: int
    disagreements: int
    disagreement_examples: list[CostDisagreement]


def _price_table(resolver: PriceResolver, keys: pl.DataFrame) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for provider, model, when, mode in keys.iter_rows():
        resolved = resolver.resolve(provider, model, when, mode) if model else None
        row: dict[str, Any] = {"provider": provider, "model": model, "price_at": when, "price_mode": mode}
        if resolved is not None:
            row.update(price_model=resolved.price_model, price_provider=resolved.price_provider,
                       price_source=resolved.source, price_note=resolved.note,
                       p_us_premium=provider_rules.anthropic_geo_premium(resolved.price_model),
                       p_audio_priced=resolved.base.audio_priced)
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
        "p_audio_priced": pl.Boolean,
    }
    for index in range(MAX_TIERS):
        schema[f"t{index}_start"] = pl.Int64
        schema.update({f"t{index}_{name}": pl.Float64 for name in PRICE_FIELDS})
    return pl.DataFrame(rows, schema=schema)


PER_REQUEST_INPUT = pl.col("input_tokens") / pl.col("request_count").clip(lower_bound=1)
"""A request's total input; for a usage bucket (many requests in one row) the mean per request: tiers are per
request, never on the bucket's sum."""
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


COVERED_BY_USAGE = "covered_by_usage"
"""cost_source of a costs-export line item whose day and model a usage export in the same run prices from tokens."""


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


def _usage_key() -> list[pl.Expr]:
    return [pl.col("ts").dt.date().alias("usage_day"), pl.col("model").str.to_lowercase().alias("usage_model")]


def _mark_covered_costs(requests: pl.DataFrame) -> pl.DataFrame:
    """Flag the OpenAI costs-export line items of a (day, model) an OpenAI usage export of the run also holds.

    The two exports are two views of one bill: the usage export's tokens are priced, and the costs export's
    amount for the same day and model is compared with them (`covered_note`) instead of being added again.
    Line items that name no model (tools, storage) and days the usage export lacks still count.
    """
    usage = requests.filter(pl.col("source_format") == "openai_usage").select(_usage_key()).unique()
    is_cost = (pl.col("source_format") == "openai_costs") & pl.col("model").is_not_null()
    if usage.height == 0:
        return requests.with_columns(covered_by_usage=pl.lit(False))
    return requests.with_columns(_usage_key()).join(usage.with_columns(_hit=pl.lit(True)), on=["usage_day", "usage_model"],
                                                    how="left", nulls_equal=False) \
        .with_columns(covered_by_usage=is_cost & pl.col("_hit").fill_null(False)) \
        .drop("usage_day", "usage_model", "_hit")


def covered_note(priced: pl.DataFrame) -> str | None:
    """How the costs export's line items that a usage export covers compare with that export's priced tokens."""
    covered = priced.filter(pl.col("cost_source") == COVERED_BY_USAGE)
    if covered.height == 0:
        return None
    keys = covered.select(_usage_key()).unique()
    usage = priced.filter(pl.col("source_format") == "openai_usage").with_columns(_usage_key()) \
        .join(keys, on=["usage_day", "usage_model"], how="semi")
    reported = series_sum(covered.get_column("cost_reported_usd"))
    computed = series_sum(usage.get_column("cost_usd").fill_null(0.0))
    gap = f" ({(computed - reported) / reported:+.1%})" if reported else ""
    return (f"{covered.height:,} line items of the OpenAI costs export (${reported:,.2f}) bill the same days and models"
            f" as the usage export, whose tokens price at ${computed:,.2f}{gap}: counted once, from the usage export")


def compute_costs(requests: pl.DataFrame, resolver: PriceResolver, as_of: date | None) -> pl.DataFrame:
    """Add price_model, price_provider, cost columns (cost_usd null when unpriced) and the applied
    unit prices ``unit_<kind>`` in USD per million tokens (after tier and batch rules)."""
    latest: datetime | None = requests.select(pl.col("ts").max()).item() if requests.height else None
    dated = latest is not None
    fallback_day = as_of or (latest.date() if latest is not None else datetime.now(UTC).date())
    keyed = _mark_covered_costs(requests.with_columns(
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
    undated = (f"requests without a timestamp (batch results, some exports) priced at the prices of {fallback_day}:"
               f" {'the latest request day of the run' if dated else 'today, as no request of the run has a time'}"
               " (--as-of sets the day)")
    row_notes = [
        (pl.col("is_aggregate") & (pl.col("request_count") > 1) & pl.col("t0_start").is_not_null(), AGGREGATE_TIER_NOTE),
        (pl.col("ts").is_null() & pl.lit(as_of is None), undated),
        ((audio_in + audio_out > 0) & ~pl.col("p_audio_priced").fill_null(True), AUDIO_AS_TEXT_NOTE),
    ]
    notes = pl.col("price_note")
    for where, note in row_notes:
        notes = _with_note(notes, where, note)
    reported_only = pl.col("is_aggregate") & (pl.col("input_tokens") + pl.col("output_tokens") == 0) \
        & pl.col("cost_reported_usd").is_not_null()
    # A proxy's own cache answered these: the provider billed nothing for them.
    cached_by_proxy = pl.col("served_from_cache").fill_null(False)
    covered = pl.col("covered_by_usage")
    priced = joined.with_columns(
        cost_input_usd=pl.when(cached_by_proxy | covered).then(0.0).otherwise(cost_in),
        cost_output_usd=pl.when(cached_by_proxy | covered).then(0.0).otherwise(cost_out),
        **{f"unit_{name}": _tiered(name) for name in PRICE_FIELDS},
        price_note=notes,
    ).with_columns(
        cost_usd=pl.when(covered).then(0.0).when(reported_only).then(pl.col("cost_reported_usd")).otherwise(
            pl.col("cost_input_usd") + pl.col("cost_output_usd")
        ),
        cost_source=pl.when(covered).then(pl.lit(COVERED_BY_USAGE))
        .when(reported_only).then(pl.lit("reported"))
        .when(cached_by_proxy).then(pl.lit("proxy_cache"))
        .when(pl.col("p_input").is_null()).then(pl.lit("unpriced")).otherwise(pl.lit("computed")),
    )
    drop = [c for c in prices.columns if c.startswith(("p_", "t0_", "t1_"))] + ["price_at", "covered_by_usage"]
    return priced.drop(drop)


def pricing_report(priced: pl.DataFrame, resolver: PriceResolver, as_of: date | None) -> PricingReport:
    """Unknown models, reported-vs-computed totals and the requests that disagree."""
    unknown = (
        priced.filter(pl.col("cost_source") == "unpriced")
        .group_by("model", "provider")
        .agg(
            requests=pl.col("request_count").sum(),
            input_tokens=pl.col("input_tokens").sum(),
            output_tokens=pl.col("output_tokens").sum(),
            reported=exact_sum(pl.col("cost_reported_usd")),
            reported_n=pl.col("cost_reported_usd").count(),
        )
        .sort(["requests", "model"], descending=[True, False], nulls_last=True)
    )
    unknown_models = [
        UnknownModel(row["model"] or "(no model logged)", row["provider"], row["requests"], row["input_tokens"],
                     row["output_tokens"], round(row["reported"], 6) if row["reported_n"] else None)
        for row in unknown.iter_rows(named=True)
    ]
    compared = priced.filter(pl.col("cost_reported_usd").is_not_null() & pl.col("cost_source").is_in(["computed", "proxy_cache"]))
    diff = (pl.col("cost_usd") - pl.col("cost_reported_usd")).abs()
    scale = pl.max_horizontal(pl.col("cost_usd").abs(), pl.col("cost_reported_usd").abs())
    disagreeing = compared.filter((diff > DISAGREEMENT_RATIO * scale) & (diff > 1e-9)).with_columns(diff=diff) \
        .sort(["diff", "request_id"], descending=[True, False])
    examples = [
        CostDisagreement(r["logged_id"], r["source_file"], r["source_line"], r["model"],
                         round(r["cost_reported_usd"], 8), round(r["cost_usd"], 8))
        for r in disagreeing.head(MAX_LISTED_DISAGREEMENTS).iter_rows(named=True)
    ]
    notes = sorted({n for n in priced.get_column("price_note").drop_nulls().unique().to_list()})
    if (note := covered_note(priced)) is not None:
        notes.append(note)
    has_reported = compared.height > 0
    return PricingReport(
        source="genai-prices (bundled snapshot)",
        version=genai_prices.__version__,
        rules_version=provider_rules.RULES_VERSION,
        as_of=as_of.isoformat() if as_of else None,
        unknown_models=unknown_models,
        notes=notes,
        reported_cost_usd=round(series_sum(compared.get_column("cost_reported_usd")), 6) if has_reported else None,
        computed_cost_usd=round(series_sum(compared.get_column("cost_usd")), 6) if has_reported else None,
        compared_requests=compared.height,
        disagreements=disagreeing.height,
        disagreement_examples=examples,
    )
