"""Provider prompt caching: what each provider's own cache would have saved on these exact prefixes.

Each provider's rules (llmaudit.provider_rules, sources beside each constant) are replayed over the
real prompts in time order, per provider / model / API key (cache_replay): OpenAI automatic caching,
Anthropic breakpoints with their write premium, Gemini implicit caching. The achievable input cost
is compared with what the logged requests actually cost; the cached tokens with what the logs report
as cached. Then the prompts themselves: volatile spans in system prompts, shuffled tool lists and
static content placed after varying content, each priced by replaying the fixed prompts.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from llmaudit import provider_rules
from llmaudit.analyses.cache_replay import PART_SCHEMA, PromptFix, part_key, simulate
from llmaudit.analyses.interface import AnalysisContext, Lever, LeverResult
from llmaudit.analyses.prompt_layout import (
    StaticAfterVarying,
    ToolOrder,
    find_static_after_varying,
    find_tool_orders,
)
from llmaudit.analyses.volatile_prefix import SpanTemplate, find_span_templates
from llmaudit.cores import SIDE_BY_SIDE_MAX_REQUESTS, beside
from llmaudit.spill import release_pages
from llmaudit.sums import exact_sum, series_sum

MAX_PRICED_FIXES = 10
"""Per kind of fix, the candidates priced by a replay (largest first)."""
OPENAI_NAME = re.compile(r"^(gpt-|o\d|chatgpt|codex|computer-use)")
NO_FEATURE = "(none)"
LOW_COVERAGE = 0.8
"""Below this share of reported input explained by logged text, the simulation says it is understated."""


def cache_family(provider: str | None, model: str | None) -> str | None:
    """Whose caching rules apply: openai | anthropic | gemini, or None (not simulated)."""
    name = (model or "").lower()
    last = name.rsplit("/", 1)[-1]
    if "claude" in name:
        return "anthropic"
    if "gemini" in name:
        return "gemini" if provider_rules.gemini_implicit_min_tokens(name) is not None else None
    if (provider or "").lower() in ("openai", "azure") or OPENAI_NAME.match(last):
        return "openai"
    return None


def _model_rules(family: str, model: str, ttl: str) -> dict[str, object]:
    """Minimum, increment, retention, breakpoints and price fallbacks of one model."""
    if family == "openai":
        minimum, increment, retention, write = provider_rules.openai_cache_rules(model)
        return {"min_tokens": minimum, "increment": increment, "retention_min": retention, "breakpoints": False,
                "charges_writes": write is not None, "write_multiplier": write or 1.0,
                "read_multiplier": provider_rules.openai_cache_read_multiplier(model)}
    if family == "anthropic":
        return {"min_tokens": provider_rules.anthropic_cache_min_tokens(model), "increment": 1,
                "retention_min": provider_rules.ANTHROPIC_CACHE_TTL_MINUTES[ttl], "breakpoints": True,
                "charges_writes": True, "read_multiplier": provider_rules.ANTHROPIC_CACHE_READ,
                "write_multiplier": provider_rules.ANTHROPIC_CACHE_WRITE_1H if ttl == "1h"
                else provider_rules.ANTHROPIC_CACHE_WRITE_5M}
    return {"min_tokens": provider_rules.gemini_implicit_min_tokens(model), "increment": 1,
            "retention_min": provider_rules.GEMINI_IMPLICIT_RETENTION_MINUTES, "breakpoints": False,
            "charges_writes": False, "write_multiplier": 1.0, "read_multiplier": provider_rules.GEMINI_IMPLICIT_READ_MULTIPLIER}


SKIP_REASONS = (
    ("aggregate rows without prompt text", pl.col("is_aggregate")),
    ("failed requests", pl.col("status") != "ok"),
    ("no timestamp", pl.col("ts").is_null()),
    ("unpriced model", pl.col("cost_input_usd").is_null() | pl.col("unit_input").is_null() | pl.col("cost_usd").is_null()),
    ("provider or model without simulated caching rules", pl.col("family").is_null()),
    ("no prompt text logged", ~pl.col("has_text")),
)


REQUEST_COLUMNS = (
    "request_id", "ts", "provider", "model", "feature", "api_key", "status", "is_aggregate", "is_batch", "request_count",
    "input_tokens", "cache_read_tokens", "cache_write_tokens", "cost_input_usd", "cost_usd",
    "unit_input", "unit_cache_read", "unit_cache_write", "unit_cache_write_1h",
)
"""The request columns the replay and its report read (the rules frame is joined and copied several times)."""


def cache_rules(context: AnalysisContext, ttl: str) -> tuple[pl.DataFrame, dict[str, int]]:
    """The replayable requests with their cache scope, rules and prices; and how many were skipped, by reason."""
    requests = context.requests.select(REQUEST_COLUMNS)
    pairs = requests.select("provider", "model").unique()
    families = pairs.with_columns(family=pl.Series(
        [cache_family(p, m) for p, m in pairs.iter_rows()], dtype=pl.String))
    with_text = context.messages.select("request_id").unique().with_columns(has_text=pl.lit(True))
    frame = requests.join(families, on=["provider", "model"], how="left", nulls_equal=True) \
        .join(with_text, on="request_id", how="left").with_columns(pl.col("has_text").fill_null(False))
    reason = pl.lit(None, pl.String)
    for label, condition in reversed(SKIP_REASONS):
        reason = pl.when(condition.fill_null(True)).then(pl.lit(label)).otherwise(reason)
    frame = frame.with_columns(skip=reason)
    skipped = {r: int(n) for r, n in frame.filter(pl.col("skip").is_not_null()).group_by("skip")
               .agg(pl.col("request_count").sum()).sort("skip").iter_rows()}
    kept = frame.filter(pl.col("skip").is_null())
    models = kept.select("family", "model").unique().sort(["family", "model"])
    per_model = pl.DataFrame(
        [{"family": f, "model": m, **_model_rules(f, m, ttl)} for f, m in models.iter_rows()],
        schema={"family": pl.String, "model": pl.String, "min_tokens": pl.Int64, "increment": pl.Int64,
                "retention_min": pl.Float64, "breakpoints": pl.Boolean, "charges_writes": pl.Boolean,
                "write_multiplier": pl.Float64, "read_multiplier": pl.Float64},
    )
    discounted = (pl.col("unit_cache_read") < pl.col("unit_input")) | pl.col("is_batch").fill_null(False)
    cache_write = pl.col("unit_cache_write_1h") if ttl == "1h" else pl.col("unit_cache_write")
    rules = kept.join(per_model, on=["family", "model"], how="left").with_columns(
        feature_key=pl.col("feature").fill_null(NO_FEATURE),
        scope=pl.concat_str([pl.col("family"), pl.col("model"), pl.col("api_key").fill_null("")], separator="\x1f"),
        retention_us=(pl.col("retention_min") * 60e6).cast(pl.Int64),
        # genai-prices' dated cached price when it has one; else the provider's documented discount.
        read_price=pl.when(discounted | pl.col("read_multiplier").is_null()).then(pl.col("unit_cache_read"))
        .otherwise(pl.col("unit_input") * pl.col("read_multiplier")),
        write_price=pl.when(~pl.col("charges_writes")).then(pl.col("unit_input"))
        .when(cache_write > pl.col("unit_input")).then(cache_write)
        .otherwise(pl.col("unit_input") * pl.col("write_multiplier")),
    ).with_columns(
        # Categorical: every prompt part carries its group (4 bytes each instead of the string's 40-odd).
        group_key=pl.concat_str([pl.col("family"), pl.col("model"), pl.col("feature_key")], separator="\x1f")
        .cast(pl.Categorical),
    )
    return rules, skipped


def prompt_parts(messages: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """The replayable requests' prompt parts in prompt order: tools (negative seq), then messages."""
    parts = messages.join(rules.select("request_id", "group_key"), on="request_id", how="inner").select(
        "request_id",
        order=pl.col("seq").cast(pl.Int64) * 4,
        key=part_key("role", "kind", "text_hash"),
        tokens=pl.col("tokens").cast(pl.Float64).fill_null(0.0),
        component="component", text_hash="text_hash", pin=pl.lit(False), group_key="group_key",
    )
    return parts.cast({name: dtype for name, dtype in PART_SCHEMA.items()})  # type: ignore[arg-type]


def _fix_savings(fix: PromptFix, parts: pl.DataFrame, rules: pl.DataFrame, before: dict[str, float]) -> float:
    """Simulated input cost of the fix's (provider, model, feature) before minus after the fix.

    ``before``: the cost before, by group, filled as groups are replayed (several fixes may share one).
    """
    group = rules.filter(pl.col("group_key") == fix.group_key)
    own = parts.filter(pl.col("group_key") == fix.group_key)
    if fix.group_key not in before:
        before[fix.group_key] = series_sum(simulate(own, group).get_column("sim_input_usd"))
    after = series_sum(simulate(fix.rewrite(own), group).get_column("sim_input_usd"))
    return max(before[fix.group_key] - after, 0.0)


def _gaps_after(fixes: list[PromptFix], parts: pl.DataFrame, rules: pl.DataFrame,
                logged: pl.DataFrame) -> dict[tuple[str, str], float]:
    """The gap (logged minus simulated input cost) of each model the fixes touch, once every given fix is applied.

    Only those models are replayed again: a fix rewrites requests of one (family, model, feature), and a
    cache scope and a breakpoint policy never reach past one model, so every other model's gap stands as
    today's replay has it (`_savings_after`).
    """
    touched = pl.DataFrame({"family": [fix.family for fix in fixes], "model": [fix.model for fix in fixes]},
                           schema={"family": pl.String, "model": pl.String}).unique()
    own_rules = rules.join(touched, on=["family", "model"], how="semi", nulls_equal=True)
    own = parts if own_rules.height == rules.height else parts.join(own_rules.select("request_id"), on="request_id", how="semi")
    for fix in fixes:
        own = fix.rewrite(own)
    replayed = own_rules.join(simulate(own, own_rules), on="request_id", how="inner") \
        .join(logged, on="request_id", how="left")
    return {(row["family"], row["model"]): float(row["gap_usd"]) for row in _rows(replayed, ["family", "model"])}


def _savings_after(gaps_after: dict[tuple[str, str], float], by_model: list[dict[str, Any]]) -> float:
    """Savings against the logged cost with the fixes applied: the touched models' new gaps, the others' as they are."""
    return sum(gaps_after.get((row["family"], row["model"]), float(row["gap_usd"])) for row in by_model)


def _affected(replayed: pl.DataFrame, by_model: list[dict[str, Any]]) -> int:
    """Requests that caching makes cheaper, in the models where it saves money overall."""
    improving = pl.DataFrame([{"family": r["family"], "model": r["model"]} for r in by_model if r["gap_usd"] > 0],
                             schema={"family": pl.String, "model": pl.String})
    return replayed.join(improving, on=["family", "model"], how="semi") \
        .filter(pl.col("sim_input_usd") < pl.col("cost_input_usd") - 1e-12).height


def _totals() -> list[pl.Expr]:
    return [
        pl.len().alias("requests"),
        pl.col("input_tokens").sum(),
        pl.col("cache_read_tokens").sum().alias("reported_cached_tokens"),
        pl.col("read_tokens").sum().alias("achievable_cached_tokens"),
        pl.col("cache_write_tokens").sum().alias("reported_cache_write_tokens"),
        pl.col("write_tokens").sum().alias("achievable_cache_write_tokens"),
        exact_sum(pl.col("cost_input_usd")).alias("reported_input_cost_usd"),
        exact_sum(pl.col("sim_input_usd")).alias("achievable_input_cost_usd"),
        pl.col("policy").unique().sort().str.join("; ").alias("placement"),
        exact_sum(pl.col("logged_tokens")).alias("logged_tokens"),
    ]


def _rows(frame: pl.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    """Logged vs achievable cached tokens and input cost per group, largest gap first."""
    grouped = frame.group_by(keys).agg(_totals()).with_columns(
        gap_tokens=pl.col("achievable_cached_tokens") - pl.col("reported_cached_tokens"),
        gap_usd=(pl.col("reported_input_cost_usd") - pl.col("achievable_input_cost_usd")).clip(0.0),
        already_caches_well=(pl.col("reported_cached_tokens") > 0)
        & (pl.col("reported_input_cost_usd") <= pl.col("achievable_input_cost_usd") + 1e-12),
        # Share of the reported input the logged text explains: the rest (formatting, or a system prompt and
        # tools the log leaves out) cannot be part of a simulated prefix.
        text_coverage=(pl.col("logged_tokens") / pl.col("input_tokens")).clip(0.0, 1.0).round(4),
    ).drop("logged_tokens").sort(["gap_usd", *keys], descending=[True, *([False] * len(keys))], nulls_last=True)
    out = []
    for row in grouped.iter_rows(named=True):
        for name in ("reported_input_cost_usd", "achievable_input_cost_usd", "gap_usd"):
            row[name] = round(float(row[name] or 0.0), 6)
        out.append(row)
    return out


class PromptCachingLever(Lever):
    name = "prompt_caching"
    title = "Provider prompt caching"

    def run(self, context: AnalysisContext) -> LeverResult:
        ttl = context.config.anthropic_cache_ttl if context.config.anthropic_cache_ttl in ("5m", "1h") else "5m"
        rules, skipped = cache_rules(context, ttl)
        if rules.height == 0:
            reasons = ", ".join(f"{n} {r}" for r, n in skipped.items()) or "no requests"
            return self.skipped(context, f"no request could be replayed ({reasons})")
        parts = prompt_parts(context.messages, rules)
        logged = parts.group_by("request_id").agg(logged_tokens=exact_sum(pl.col("tokens")))
        templates = find_span_templates(parts, context.texts, rules)
        release_pages()  # the system texts compared: their pages can go before the replays
        for template in templates:
            if template.family != "anthropic":  # automatic caches match tokens inside a message; breakpoints do not
                parts = template.share_prefix(parts)
        # The fixes are priced beside today's replay (neither reads the other's result), or after it above
        # SIDE_BY_SIDE_MAX_REQUESTS, when today's replayed rows are gone first (the lever's peak at 1M requests).
        with beside(lambda: self._fixes_and_gaps(context, parts, rules, templates, logged),
                    side_by_side=rules.height <= SIDE_BY_SIDE_MAX_REQUESTS) as pricing:
            replayed = rules.join(simulate(parts, rules), on="request_id", how="inner").join(logged, on="request_id", how="left")
            by_model = _rows(replayed, ["family", "model"])
            by_feature = [{"feature": row.pop("feature_key"), **row} for row in _rows(replayed, ["feature_key", "family", "model"])]
            affected, replayed_requests = _affected(replayed, by_model), replayed.height
            by_request = replayed.select("request_id", saved_usd=pl.col("cost_input_usd") - pl.col("sim_input_usd"),
                                         group=pl.concat_str("family", pl.col("model").fill_null(""), separator="/"))
            del replayed  # a row per request
        fixes, gaps_after = pricing.result()
        savings = sum(float(r["gap_usd"]) for r in by_model)
        savings_with_fixes = _savings_after(gaps_after, by_model) if gaps_after is not None else savings
        details = {
            "rules_version": provider_rules.RULES_VERSION,
            "granularity": "message parts",
            "anthropic_ttl": ttl,
            "replayed_requests": replayed_requests,
            "skipped_requests": skipped,
            "by_model": by_model,
            "by_feature": by_feature,
            "volatile_prefixes": [d for fix, saved, d in fixes if isinstance(fix, SpanTemplate | ToolOrder) and saved > 0],
            "reorder": [d for fix, saved, d in fixes if isinstance(fix, StaticAfterVarying) and saved > 0],
            "savings_with_fixes_usd": round(savings_with_fixes, 6),
            "monthly_savings_with_fixes_usd": context.monthly(savings_with_fixes),
        }
        return LeverResult(
            name=self.name, title=self.title, savings_usd=round(savings, 6), monthly_savings_usd=context.monthly(savings),
            affected_requests=affected, confidence="estimated",
            assumptions=self._assumptions(ttl, rules, skipped, by_model), details=details,
            savings_by_request=by_request,
        )

    def _fixes_and_gaps(self, context: AnalysisContext, parts: pl.DataFrame, rules: pl.DataFrame,
                        templates: list[SpanTemplate], logged: pl.DataFrame
                        ) -> tuple[list[tuple[PromptFix, float, dict[str, object]]], dict[tuple[str, str], float] | None]:
        """Every candidate fix priced, and the touched models' gaps with every fix that pays (None: none pays)."""
        fixes = self._price_fixes(context, parts, rules, templates)
        worthwhile = [fix for fix, saved, _ in fixes if saved > 0]
        return fixes, _gaps_after(worthwhile, parts, rules, logged) if worthwhile else None

    def _price_fixes(self, context: AnalysisContext, parts: pl.DataFrame, rules: pl.DataFrame,
                     templates: list[SpanTemplate]) -> list[tuple[PromptFix, float, dict[str, object]]]:
        """Every candidate fix with its savings over the window and its report entry."""
        spans = sorted(templates, key=lambda t: (-t.requests * t.static_tokens, t.cluster_id))
        candidates: list[PromptFix] = [
            *spans[:MAX_PRICED_FIXES],
            *find_tool_orders(parts, context.texts, rules)[:MAX_PRICED_FIXES],
            *find_static_after_varying(parts, context.texts, rules)[:MAX_PRICED_FIXES],
        ]
        priced = []
        before: dict[str, float] = {}
        for fix in candidates:
            saved = _fix_savings(fix, parts, rules, before)
            priced.append((fix, saved, _describe(fix, saved, context)))
        return sorted(priced, key=lambda item: -item[1])

    @staticmethod
    def _assumptions(ttl: str, rules: pl.DataFrame, skipped: dict[str, int], by_model: list[dict[str, Any]]) -> list[str]:
        families = set(rules.get_column("family").unique().to_list())
        out = [
            "prefixes are compared message by message (tools, system, history, context, query parts with calibrated"
            " tokens); per-message formatting tokens and image/audio parts are not part of the simulated prefix",
            "caches are replayed in time order per provider, model and API key (a missing key = one scope); a request"
            " sees only entries written by requests that started strictly earlier",
        ]
        if "openai" in families:
            out.append(
                f"OpenAI: automatic caching from {provider_rules.OPENAI_CACHE_MIN_TOKENS:,} tokens in"
                f" {provider_rules.OPENAI_CACHE_INCREMENT}-token steps, entries alive"
                f" {provider_rules.OPENAI_IN_MEMORY_RETENTION_MINUTES:g} min after last use (in_memory retention, the low"
                " end of the documented 5-10 min; the 1 h cap and overflow routing above ~15 RPM per prefix are not"
                " modelled; the 24h retention some docs call the default is not assumed); gpt-5.5 and GPT-5.6+ per their"
                " own documented rules")
        if "anthropic" in families:
            out.append(
                f"Anthropic: breakpoints after the tools, after the system prompt and optionally after the last message,"
                f" whichever placement is cheapest per feature; TTL {ttl} refreshed on each hit; writes at"
                f" {provider_rules.ANTHROPIC_CACHE_WRITE_1H if ttl == '1h' else provider_rules.ANTHROPIC_CACHE_WRITE_5M:g}x,"
                f" reads at {provider_rules.ANTHROPIC_CACHE_READ:g}x input; per-model minimum (newest doc, Aug 2026:"
                " Sonnet 4.6 at 1,024 though an older version and a user report say 2,048; unknown models at 4,096);"
                f" a read looks back at most {provider_rules.ANTHROPIC_LOOKBACK_BLOCKS} parts")
        if "gemini" in families:
            out.append(
                "Gemini: implicit caching on 2.5+ models from the newest documented minimum (2,048 for 2.5, 4,096 for 3.x),"
                f" entries assumed alive {provider_rules.GEMINI_IMPLICIT_RETENTION_MINUTES:g} min after last use (Google"
                " documents no lifetime) and hits assumed whenever possible, though Google guarantees none")
        out.append("cached and write prices come from genai-prices for each request's date, tier and batch mode; output"
                   " cost is unchanged; savings = logged input cost - simulated input cost, never below 0 per model")
        thin = [f"{r['model']} ({r['text_coverage']:.0%})" for r in by_model if r["text_coverage"] < LOW_COVERAGE]
        if thin:
            out.append("the logged prompt text explains little of the reported input for " + ", ".join(thin)
                       + ": the rest (e.g. a system prompt or tools the log omits) is not simulated, so achievable"
                       " caching there is understated")
        out.append("volatile prefixes: system texts of one feature and model, lengths within 10%, differing in one short"
                   " span (under 10% of the text, widened to whole words); each fix (span moved after the static"
                   " content, tools in one order, static part first) is priced by replaying that feature's rewritten"
                   " prompts; savings_with_fixes applies every fix that pays")
        well = sorted(str(r["model"]) for r in by_model if r["already_caches_well"])
        if well:
            out.append(f"already caching at least as well as the simulation: {', '.join(well)} (saving 0)")
        if skipped:
            out.append("not replayed: " + ", ".join(f"{n} {r}" for r, n in skipped.items()))
        return out


def _describe(fix: PromptFix, saved: float, context: AnalysisContext) -> dict[str, object]:
    """The report entry of one priced fix."""
    monthly = context.monthly(saved)
    base: dict[str, object] = {"feature": fix.feature, "provider": fix.family, "model": fix.model}
    if isinstance(fix, SpanTemplate):
        breakpoint_note = " and put the cache breakpoint before it" if fix.family == "anthropic" else ""
        return {**base, "kind": "system_prompt_span", "requests": fix.requests, "variants": len(fix.member_hashes),
                "template": fix.template(), "span_kind": fix.span_kind, "varying_span_examples": fix.shown_examples(),
                "static_tokens": round(fix.static_tokens),
                "fix": f"move the varying {fix.span_kind} out of the system prompt, after all static content (e.g. at"
                       f" the end of the latest user message){breakpoint_note}: -${monthly:,.2f}/month",
                "savings_usd": round(saved, 6), "monthly_savings_usd": monthly}
    if isinstance(fix, ToolOrder):
        return {**base, "kind": "tool_order", "requests": fix.requests, "variants": fix.orders,
                "template": "tools: [" + ", ".join(sorted(fix.order_examples[0])) + "] in «varying order»",
                "span_kind": "tool order", "varying_span_examples": [", ".join(o) for o in fix.order_examples],
                "fix": f"send the tools in one fixed order (e.g. sorted by name): -${monthly:,.2f}/month",
                "savings_usd": round(saved, 6), "monthly_savings_usd": monthly}
    assert isinstance(fix, StaticAfterVarying)
    return {**base, "requests": fix.requests, "component": fix.component, "tokens": round(fix.tokens),
            "excerpt": fix.excerpt, "first_part_varies_share": fix.first_varies_share,
            "fix": f"put this static {fix.component} part ({round(fix.tokens):,} tokens) before the per-request"
                   f" {fix.first_component} part: -${monthly:,.2f}/month",
            "savings_usd": round(saved, 6), "monthly_savings_usd": monthly}

