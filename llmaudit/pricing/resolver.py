"""Unit prices of one (provider, model, time, mode): genai-prices, then the documented rules it lacks.

Modes: ``standard``, ``batch`` (the provider's batch discount, which genai-prices lacks for
most dates, applied here), ``flex`` (batch rates, cached input keeping its discount) and
``priority`` (genai-prices' priority variant, else OpenAI's documented premium). Where
genai-prices lacks or contradicts a documented rule (a cached-input share, a long-context
tier) the documented rule wins, and the price's note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import data_snapshot
from genai_prices.types import ModelPrice, TieredPrices, TimeOfDateConstraint

from llmaudit import provider_rules
from llmaudit.pricing.overrides import PriceOverride

PRICE_FIELDS = ("input", "cache_read", "cache_write", "cache_write_1h", "output", "reasoning", "input_audio",
                "output_audio")
MAX_TIERS = 2
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
    output_priced: bool = True
    """False for a model with an input price alone (an embedding model): its output prices are zeros standing in,
    and a request that has output tokens is unpriced (`compute_costs`)."""

    def scaled(self, factor: float, *, output_factor: float | None = None, cache_read: float | None = None) -> UnitPrices:
        """Every price times ``factor`` (batch), the output prices by ``output_factor`` when given (a long-context
        tier), optionally with a cache-read price of its own."""
        out = factor if output_factor is None else output_factor
        return UnitPrices(
            input=self.input * factor,
            cache_read=self.cache_read * factor if cache_read is None else cache_read,
            cache_write=self.cache_write * factor,
            cache_write_1h=self.cache_write_1h * factor,
            output=self.output * out,
            reasoning=self.reasoning * out,
            input_audio=self.input_audio * factor,
            output_audio=self.output_audio * out,
            audio_priced=self.audio_priced,
            output_priced=self.output_priced,
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
    web_search_k: float | None = None
    """USD per 1,000 searches of the provider's web search tool (the standard price in every mode: no batch rate
    is published for it); None when genai-prices has none."""


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
    if input_price is None:
        return None
    listed_output = pick("output_mtok")
    output_price = 0.0 if listed_output is None else listed_output  # embedding models bill their input alone
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
                      input_price if input_audio is None else input_audio,
                      output_price if output_audio is None else output_audio,
                      audio_priced=input_audio is not None or output_audio is not None,
                      output_priced=listed_output is not None)


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
        if self._override(model) is not None:
            return False
        found = self._find(provider, model)
        prices = found[1].prices if found is not None else None
        return isinstance(prices, list) and any(isinstance(p.constraint, TimeOfDateConstraint) for p in prices)

    def _override(self, model: str) -> PriceOverride | None:
        """The user's price for a model, by its logged name or the name after its last '/'."""
        return self.overrides.get(model.lower()) or self.overrides.get(model.lower().rsplit("/", 1)[-1])

    def _resolve(self, provider: str | None, model: str, when: datetime, mode: str) -> ResolvedPrice | None:
        override = self._override(model)
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
        if mode in ("batch", "flex") and not has_variant:
            # Flex is priced at batch rates, cached input keeping its discount (unlike pre-GPT-5 batch).
            base, tiers = self._batch(gp, model_id, base, tiers, cache_discount_kept=mode == "flex")
        elif mode == "priority" and not has_variant:
            premium = provider_rules.openai_priority_multiplier(model_id) if gp in ("openai", "azure") else None
            if premium is None:
                notes.append("priority tier priced at standard rates: neither genai-prices nor the provider's pricing"
                             " page gives a priority price for this model and date")
            else:
                base = base.scaled(premium)  # long-context requests keep the standard long-context price
        source = f"genai-prices {genai_prices.__version__}"
        searches = getattr(standard, "web_searches_kcount", None)
        return ResolvedPrice(model_id, gp, source, base, tiers, "; ".join(notes) or None,
                             float(searches) if searches is not None else None)

    @staticmethod
    def _batch(
        provider: str, model_id: str, base: UnitPrices, tiers: tuple[tuple[int, UnitPrices], ...],
        cache_discount_kept: bool = False,
    ) -> tuple[UnitPrices, tuple[tuple[int, UnitPrices], ...]]:
        factor = provider_rules.BATCH_DISCOUNT.get(provider, 0.5)
        no_cache_discount = not cache_discount_kept and provider in ("openai", "azure") \
            and not provider_rules.openai_batch_cache_read_is_discounted(model_id)

        def apply(prices: UnitPrices) -> UnitPrices:
            if no_cache_discount:
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
    return ((threshold, base.scaled(input_factor, output_factor=output_factor)),)
