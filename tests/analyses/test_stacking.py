"""The levers stacked: each acts on what the ones before it left; a request a cache answers counts once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from llmaudit.analyses.interface import AnalysisContext, LeverResult
from llmaudit.analyses.stacking import stack


def lever(name: str, saved: dict[int, float], group: str = "all") -> LeverResult:
    frame = pl.DataFrame({"request_id": list(saved), "saved_usd": list(saved.values())},
                         schema={"request_id": pl.UInt32, "saved_usd": pl.Float64}).with_columns(group=pl.lit(group))
    return LeverResult(name, name.replace("_", " "), sum(v for v in saved.values()), 0.0, len(saved), "measured", [],
                       savings_by_request=frame)


def context(costs: list[float], days: float = 30.0) -> AnalysisContext:
    requests = pl.DataFrame({"request_id": list(range(1, len(costs) + 1)), "cost_usd": costs},
                            schema={"request_id": pl.UInt32, "cost_usd": pl.Float64})
    return AnalysisContext(requests, pl.DataFrame(), pl.DataFrame(), days)


def test_each_lever_saves_only_on_what_the_ones_before_it_left() -> None:
    levers = [
        lever("prompt_caching", {1: 0.3, 2: 0.3, 3: 0.3, 4: -0.1}, group="openai/gpt-4o"),  # order of the stack, not of the list
        lever("exact_cache", {2: 1.0}),
        lever("semantic_cache", {2: 1.0, 3: 1.0}),  # the exact cache's hit is a semantic hit too
    ]
    stacked = stack(levers, context([1.0] * 4))
    assert [s.name for s in stacked.steps] == ["exact_cache", "semantic_cache", "prompt_caching"]
    assert [s.stacked_usd for s in stacked.steps] == pytest.approx([1.0, 1.0, 0.2])  # r1 + r4 left to cache
    assert [s.requests for s in stacked.steps] == [1, 1, 1]
    assert [s.alone_usd for s in stacked.steps] == pytest.approx([1.0, 2.0, 0.8])
    assert stacked.total_usd == pytest.approx(2.2)
    assert stacked.share_of_spend == pytest.approx(0.55)
    assert stacked.monthly_total_usd == pytest.approx(2.2)  # a 30-day window


def test_a_group_that_loses_saves_nothing_and_skipped_levers_are_left_out() -> None:
    losing = lever("prompt_caching", {1: 0.2, 2: -0.5}, group="anthropic/claude-haiku-4-5")
    skipped = LeverResult("exact_cache", "exact", 0.0, 0.0, 0, "measured", [], skipped_reason="no prompt text")
    stacked = stack([skipped, losing], context([1.0, 1.0]))
    assert [(s.name, s.stacked_usd, s.requests) for s in stacked.steps] == [("prompt_caching", 0.0, 0)]
    assert stack([skipped], context([1.0])).steps == []


def test_stacked_savings_never_exceed_the_spend_on_the_sample_logs(tmp_path: Path) -> None:
    from tests.nasty.conftest import invoke_cli

    sample = Path(__file__).resolve().parents[2] / "sample_logs"
    run = invoke_cli([str(sample)], tmp_path / "audit.json")
    assert run.audit is not None, run.output
    stacked, levers = run.audit["stacked"], {lever["name"]: lever for lever in run.audit["levers"]}
    assert [step["name"] for step in stacked["steps"]] == ["exact_cache", "semantic_cache", "prompt_caching"]
    assert 0 < stacked["total_usd"] < sum(lever["savings_usd"] for lever in levers.values())
    assert stacked["total_usd"] <= run.audit["summary"]["cost_usd"]
    first = stacked["steps"][0]
    assert first["stacked_usd"] == first["alone_usd"] == levers["exact_cache"]["savings_usd"]
    assert all("savings_by_request" not in lever for lever in run.audit["levers"])
