"""OpenAI's usage export and costs export read together: two views of one bill, counted once."""

from __future__ import annotations

import polars as pl

from llmaudit.sums import series_sum

COVERED_BY_USAGE = "covered_by_usage"
"""cost_source of a costs-export line item whose day and model a usage export in the same run prices from tokens."""


def _usage_key() -> list[pl.Expr]:
    return [pl.col("ts").dt.date().alias("usage_day"), pl.col("model").str.to_lowercase().alias("usage_model")]


def mark_covered_costs(requests: pl.DataFrame) -> pl.DataFrame:
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


