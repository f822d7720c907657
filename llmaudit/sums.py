"""Sums of floats (dollars, calibrated tokens) that come out the same in every run.

polars adds up a float column in whatever order its threads split the rows, and float addition is
not associative: one log could give totals that differ in the last digit from one run to the next
(measured: 12 different results in 30 runs of one group_by over a million costs), and a reported
figure rounded to the micro-dollar would then change between two runs on the same input. These sums
go through a 38-digit decimal with 12 decimal places instead: integer arithmetic, exact in any order.
Each value is taken to 1e-12 (a pico-dollar), far below any provider's billing unit.
"""

from __future__ import annotations

import polars as pl

EXACT = pl.Decimal(38, 12)


def exact_sum(expr: pl.Expr) -> pl.Expr:
    """The sum of a float expression, as a float, independent of row order and threads."""
    return expr.cast(EXACT).sum().cast(pl.Float64)


def series_sum(series: pl.Series) -> float:
    """The sum of a float series, independent of its chunks' order (0.0 when empty)."""
    if series.len() == 0:
        return 0.0
    return float(series.cast(EXACT).sum() or 0.0)
