"""Spend breakdowns and headline totals: polars group-bys over the priced requests table."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from llmaudit.result import BreakdownRow, Summary, Window
from llmaudit.sums import exact_sum, series_sum

NONE_LABEL = "(none)"
DAYS_PER_MONTH = 30.0


def window_of(priced: pl.DataFrame) -> Window:
    """First and last request time, and the span in days (at least one day)."""
    if priced.height == 0 or priced.get_column("ts").null_count() == priced.height:
        return Window(None, None, 1.0)
    start: datetime = priced.get_column("ts").min()  # type: ignore[assignment]
    end: datetime = priced.get_column("ts").max()  # type: ignore[assignment]
    days = max((end - start).total_seconds() / 86400.0, 1.0)
    return Window(start.isoformat(), end.isoformat(), round(days, 4))


def summary_of(priced: pl.DataFrame, window: Window) -> Summary:
    """Headline totals; failed requests and unpriced requests counted apart."""
    failed = pl.col("status") != "ok"
    row = priced.select(
        requests=pl.col("request_count").sum(),
        cost=exact_sum(pl.col("cost_usd")),
        input_tokens=pl.col("input_tokens").sum(),
        cache_read=pl.col("cache_read_tokens").sum(),
        cache_write=pl.col("cache_write_tokens").sum(),
        output_tokens=pl.col("output_tokens").sum(),
        reasoning=pl.col("reasoning_tokens").sum(),
        failed=pl.col("request_count").filter(failed).sum(),
        failed_cost=exact_sum(pl.col("cost_usd").filter(failed)),
        unpriced=pl.col("request_count").filter(pl.col("cost_source") == "unpriced").sum(),
        unpriced_ok=pl.col("request_count").filter((pl.col("cost_source") == "unpriced") & ~failed).sum(),
    ).row(0, named=True)
    requests = int(row["requests"] or 0)
    cost = float(row["cost"] or 0.0)
    # Over the successful requests that have a price: unpriced traffic would make every request look cheaper.
    successful = requests - int(row["failed"] or 0) - int(row["unpriced_ok"] or 0)
    return Summary(
        requests=requests,
        cost_usd=round(cost, 6),
        input_tokens=int(row["input_tokens"] or 0),
        cache_read_tokens=int(row["cache_read"] or 0),
        cache_write_tokens=int(row["cache_write"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        reasoning_tokens=int(row["reasoning"] or 0),
        failed_requests=int(row["failed"] or 0),
        failed_cost_usd=round(float(row["failed_cost"] or 0.0), 6),
        unpriced_requests=int(row["unpriced"] or 0),
        cost_per_successful_request_usd=round(cost / successful, 8) if successful > 0 else None,
        monthly_run_rate_usd=round(cost / window.days * DAYS_PER_MONTH, 6),
    )


def breakdown(
    priced: pl.DataFrame, key: pl.Expr, *, limit: int | None = None, detail: list[str] | None = None,
    chronological: bool = False,
) -> list[BreakdownRow]:
    """Spend per group, most expensive first (ties by key), or by key when ``chronological``."""
    total = series_sum(priced.get_column("cost_usd"))
    detail = detail or []
    grouped = (
        priced.with_columns(group_key=key.cast(pl.String).fill_null(NONE_LABEL))
        .group_by("group_key")
        .agg(
            requests=pl.col("request_count").sum(),
            cost_usd=exact_sum(pl.col("cost_usd")),
            input_tokens=pl.col("input_tokens").sum(),
            output_tokens=pl.col("output_tokens").sum(),
            failed=pl.col("request_count").filter(pl.col("status") != "ok").sum(),
            unpriced=pl.col("request_count").filter(pl.col("cost_source") == "unpriced").sum(),
            **{name: pl.col(name).drop_nulls().first() for name in detail},
        )
    )
    grouped = grouped.sort("group_key") if chronological else grouped.sort(
        ["cost_usd", "requests", "group_key"], descending=[True, True, False], nulls_last=True
    )
    rows = [_row(r, total, detail) for r in grouped.iter_rows(named=True)]
    if limit is not None and len(rows) > limit:
        rest = rows[limit:]
        # The groups' own sums, not their rounded figures (thousands of roundings add up).
        cost = series_sum(grouped.slice(limit).get_column("cost_usd").fill_null(0.0))
        rows = rows[:limit] + [
            BreakdownRow(
                key=f"(other {len(rest)})", requests=sum(r.requests for r in rest), cost_usd=round(cost, 6),
                share=round(cost / total, 6) if total else 0.0, input_tokens=sum(r.input_tokens for r in rest),
                output_tokens=sum(r.output_tokens for r in rest), failed_requests=sum(r.failed_requests for r in rest),
                unpriced_requests=sum(r.unpriced_requests for r in rest),
            )
        ]
    return rows


def _row(values: dict, total: float, detail: list[str]) -> BreakdownRow:
    cost = float(values["cost_usd"] or 0.0)
    return BreakdownRow(
        key=str(values["group_key"]),
        requests=int(values["requests"] or 0),
        cost_usd=round(cost, 6),
        share=round(cost / total, 6) if total else 0.0,
        input_tokens=int(values["input_tokens"] or 0),
        output_tokens=int(values["output_tokens"] or 0),
        failed_requests=int(values["failed"] or 0),
        unpriced_requests=int(values["unpriced"] or 0),
        detail={name: str(values[name]) for name in detail if values.get(name) is not None},
    )
