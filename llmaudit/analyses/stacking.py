"""The levers stacked: applied to each request in one fixed order, each on what the ones before it left.

Each lever alone is replayed on all the traffic, so their savings overlap: a request an exact cache
answers is also a semantic-cache hit and a warm prompt cache. Stacked, a request a response cache
answers is gone for the levers after it, and a lever's saving on a request counts once. The
levers hand over their savings per request (`LeverResult.savings_by_request`); this module only
adds up what remains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from llmaudit.sums import exact_sum

if TYPE_CHECKING:
    from llmaudit.analyses.interface import AnalysisContext, LeverResult

STACK_ORDER = ("exact_cache", "semantic_cache", "routing", "history_trimming", "context_pruning", "prompt_caching",
               "output_caps", "batch")
"""The order of DESIGN.md: response caches first (a request they answer is never sent), batching last."""
ANSWERING = frozenset({"exact_cache", "semantic_cache"})
"""Levers whose hits are answered without a call: the later levers do not see those requests."""


@dataclass(frozen=True)
class StackStep:
    """One lever in the stack."""

    name: str
    title: str
    alone_usd: float
    """What the lever saves on all the traffic (its own figure)."""
    stacked_usd: float
    """What it saves on what the levers before it left."""
    monthly_stacked_usd: float
    requests: int
    """Requests it still acts on."""


@dataclass(frozen=True)
class StackedSavings:
    """The levers applied in order: the figure to quote when asked what all of them together would save."""

    steps: list[StackStep]
    total_usd: float
    monthly_total_usd: float
    share_of_spend: float
    """total_usd over the spend of the window."""
    assumptions: list[str]


def stack(levers: list[LeverResult], context: AnalysisContext) -> StackedSavings:
    """Apply the levers that ran, in `STACK_ORDER`, each to the requests the answering levers before it left."""
    spend = float(context.requests.select(exact_sum(pl.col("cost_usd"))).item() or 0.0)
    ran = {lever.name: lever for lever in levers if lever.skipped_reason is None and lever.savings_by_request is not None}
    answered = pl.DataFrame(schema={"request_id": context.requests.schema["request_id"]})
    steps: list[StackStep] = []
    total = 0.0
    for name in sorted(ran, key=lambda n: STACK_ORDER.index(n) if n in STACK_ORDER else len(STACK_ORDER)):
        lever = ran[name]
        saving = lever.savings_by_request
        assert saving is not None
        left = saving.join(answered, on="request_id", how="anti")
        per_group = left.group_by("group").agg(saved=exact_sum(pl.col("saved_usd")))
        stacked = float(per_group.select(exact_sum(pl.col("saved").clip(lower_bound=0.0))).item() or 0.0)
        gaining = left.join(per_group.filter(pl.col("saved") > 0), on="group", how="semi")
        acting = gaining.height if name in ANSWERING else gaining.filter(pl.col("saved_usd") > 1e-12).height
        steps.append(StackStep(name, lever.title, lever.savings_usd, round(stacked, 6), context.monthly(stacked), acting))
        total += stacked
        if name in ANSWERING:
            answered = pl.concat([answered, left.select("request_id").cast({"request_id": answered.schema["request_id"]})])
    assumptions = [
        "each lever acts on what the levers before it left, in this order: " + ", ".join(s.title for s in steps),
        "a request a response cache answers is never sent: no later lever saves anything on it",
        "prompt caching keeps each remaining request's replayed saving, as if the requests the response caches"
        " answer still warmed the provider's cache (an upper bound when those requests were the warm ones)",
    ] if steps else []
    return StackedSavings(steps, round(total, 6), context.monthly(total), round(total / spend, 6) if spend else 0.0,
                          assumptions)
