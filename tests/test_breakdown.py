"""Headline totals: failed and unpriced requests are counted apart, never folded into the per-request figure."""

from __future__ import annotations

import pytest

from llmaudit.breakdown import summary_of, window_of
from tests.pricing.test_costs import priced, req


def test_cost_per_successful_request_leaves_out_failed_and_unpriced_requests() -> None:
    # Two gpt-4o-mini calls at $0.15/M in and $0.60/M out, one failure, and two calls to a model nobody prices.
    ok = [req("gpt-4o-mini", "openai", input_tokens=1_000_000, output_tokens=100_000) for _ in range(2)]
    failed = req("gpt-4o-mini", "openai", input_tokens=0, output_tokens=0, status="error")
    unknown = [req("house-model-7", "acme", input_tokens=5_000, output_tokens=500) for _ in range(2)]
    frame = priced(*ok, failed, *unknown)
    summary = summary_of(frame, window_of(frame))
    assert (summary.requests, summary.failed_requests, summary.unpriced_requests) == (5, 1, 2)
    assert summary.cost_usd == pytest.approx(2 * 0.21)
    assert summary.cost_per_successful_request_usd == pytest.approx(0.21)  # not 0.42 / 4


def test_no_priced_success_means_no_per_request_figure() -> None:
    frame = priced(req("house-model-7", "acme", input_tokens=5_000, output_tokens=500))
    assert summary_of(frame, window_of(frame)).cost_per_successful_request_usd is None


def test_the_monthly_run_rate_keeps_its_precision() -> None:
    # $0.00105 in one day (the window is at least a day): $0.0315 a month, not $0.03.
    frame = priced(req("gpt-4o-mini", "openai", input_tokens=3_000, output_tokens=1_000))
    summary = summary_of(frame, window_of(frame))
    assert summary.cost_usd == pytest.approx(0.00105)
    assert summary.monthly_run_rate_usd == pytest.approx(0.0315, abs=1e-9)
