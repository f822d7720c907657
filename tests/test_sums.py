"""Float sums that do not depend on how polars splits the rows over its threads."""

from __future__ import annotations

import numpy as np
import polars as pl

from llmaudit.breakdown import breakdown
from llmaudit.sums import exact_sum, series_sum


def _costs(rows: int = 400_000) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    return pl.DataFrame({
        "team": rng.choice([f"team-{n}" for n in range(25)], rows), "cost_usd": rng.random(rows) * 0.013,
        "request_count": np.ones(rows, dtype=np.int64), "input_tokens": rng.integers(1, 9_000, rows),
        "output_tokens": rng.integers(1, 900, rows), "status": "ok", "cost_source": "genai-prices",
    })


def test_group_sums_are_the_same_in_every_run() -> None:
    frame = _costs()
    runs = {tuple(frame.group_by("team").agg(cost=exact_sum(pl.col("cost_usd"))).sort("team")
                  .get_column("cost").to_list()) for _ in range(20)}
    assert len(runs) == 1


def test_breakdowns_are_the_same_in_every_run() -> None:
    frame = _costs()
    assert len({repr(breakdown(frame, pl.col("team"))) for _ in range(20)}) == 1


def test_exact_sums_match_the_float_sum() -> None:
    frame = _costs(10_000)
    values = frame.get_column("cost_usd")
    assert abs(series_sum(values) - float(np.sum(values.to_numpy()))) < 1e-9
    assert series_sum(values.slice(0, 0)) == 0.0
    assert series_sum(values.reverse()) == series_sum(values)


def test_the_other_row_sums_the_groups_not_their_rounded_figures() -> None:
    # 500 users at $0.0000004 each: every user rounds to $0.000000, together they are $0.0002.
    frame = pl.DataFrame({
        "user_id": ["big", *(f"u{n}" for n in range(500))], "cost_usd": [1.0, *([4e-7] * 500)],
        "request_count": 1, "input_tokens": 1, "output_tokens": 1, "status": "ok", "cost_source": "genai-prices",
    })
    rows = breakdown(frame, pl.col("user_id"), limit=1)
    assert [r.key for r in rows] == ["big", "(other 500)"]
    assert rows[1].cost_usd == 0.0002
    assert rows[1].requests == 500
