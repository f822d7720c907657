"""How a run was priced: unknown models, pricing notes, and logged costs against computed ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import genai_prices
import polars as pl

from llmaudit import provider_rules
from llmaudit.pricing.exports import covered_note
from llmaudit.sums import exact_sum, series_sum
from llmaudit.table import shown_id

DISAGREEMENT_RATIO = 0.01
MAX_LISTED_DISAGREEMENTS = 50


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


def pricing_report(priced: pl.DataFrame, as_of: date | None) -> PricingReport:
    """Unknown models, reported-vs-computed totals and the requests that disagree."""
    unknown = (
        # Models genai-prices does not know; a known model's request left unpriced (output an embedding model has
        # no price for) is explained by its pricing note instead.
        priced.filter((pl.col("cost_source") == "unpriced") & pl.col("price_model").is_null())
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
        CostDisagreement(shown_id(r["logged_id"]), r["source_file"], r["source_line"], r["model"],
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
