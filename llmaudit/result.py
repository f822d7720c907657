"""AuditResult: the one frozen value every renderer reads. Renderers never recompute."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmaudit.analyses.interface import LeverResult
from llmaudit.analyses.stacking import StackedSavings
from llmaudit.ingest.pipeline import FileSummary, RejectedRecord
from llmaudit.pricing.report import PricingReport
from llmaudit.tokens.attribution import Attribution

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Window:
    """The time span the figures were measured on."""

    start: str | None
    """ISO 8601 UTC of the first request."""
    end: str | None
    """ISO 8601 UTC of the last request."""
    days: float
    """Length in days (at least 1), the basis of every monthly run-rate."""


@dataclass(frozen=True)
class IngestSummary:
    """The reconciliation: records_read = requests + duplicates + rejected."""

    records_read: int
    requests: int
    duplicates: int
    rejected: int
    skipped: int
    """Valid lines that are not API calls (transcript user turns, session headers), not in records_read."""
    rejects: list[RejectedRecord]
    skipped_reasons: dict[str, int]
    files: list[FileSummary]
    unrecognised_files: list[RejectedRecord]
    """Files in a given directory that are not logs of any known format (not read)."""
    merged_halves: int = 0
    """Of the duplicates, request halves merged into their other half (a batch input line joined to its
    result): not copies, and nothing of them is lost."""


@dataclass(frozen=True)
class Summary:
    """Headline totals over priced and unpriced requests alike (cost covers priced ones only)."""

    requests: int
    cost_usd: float
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    failed_requests: int
    failed_cost_usd: float
    unpriced_requests: int
    cost_per_successful_request_usd: float | None
    """cost_usd over the successful requests that are priced (unpriced ones would lower it); None when there are none."""
    monthly_run_rate_usd: float
    """cost_usd / window.days * 30."""


@dataclass(frozen=True)
class BreakdownRow:
    """Spend of one group (a model, feature, user or day)."""

    key: str
    requests: int
    cost_usd: float
    share: float
    """Share of total cost_usd, 0-1."""
    input_tokens: int
    output_tokens: int
    failed_requests: int
    unpriced_requests: int = 0
    """Requests of this group whose model has no price: not in cost_usd."""
    detail: dict[str, str] = field(default_factory=dict)
    """Extra labels: the priced model id and provider for by_model."""


@dataclass(frozen=True)
class AuditResult:
    """Everything an audit found, in the shape audit.json serialises."""

    schema_version: int
    generated_at: str
    window: Window
    ingest: IngestSummary
    summary: Summary
    by_model: list[BreakdownRow]
    by_feature: list[BreakdownRow]
    by_user: list[BreakdownRow]
    by_day: list[BreakdownRow]
    by_team: list[BreakdownRow]
    pricing: PricingReport
    attribution: Attribution
    levers: list[LeverResult]
    stacked: StackedSavings
    """The levers applied one after another (`analyses.stacking`): the figure to quote for all of them together."""
    store_path: str | None
