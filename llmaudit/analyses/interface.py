"""The lever contract: each optimisation is one module with one `Lever` subclass.

A lever is a pure function of the analysis context (the priced requests, their messages
and texts) and its configuration. It returns a `LeverResult` stating what it would have
saved on this traffic, how many requests it touches, what it assumed and how sure it is.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # annotations only: the command line loads this module before polars (see ingest/forkserver.py)
    import polars as pl

CONFIDENCE_LEVELS = ("measured", "estimated", "scenario")
DAYS_PER_MONTH = 30.0


@dataclass(frozen=True)
class LeverConfig:
    """Knobs of the levers, from flags and llmaudit.toml."""

    exact_cache_ttl_hours: float = 24.0
    semantic_cache_ttl_hours: float = 24.0
    semantic_threshold: float | None = None
    """None = the default chosen for precision on labelled paraphrase data."""
    semantic_thresholds: tuple[float, ...] = (0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.99)
    anthropic_cache_ttl: str = "5m"
    """Breakpoint TTL the prompt-caching simulation assumes for Anthropic: 5m or 1h."""


@dataclass(frozen=True)
class AnalysisContext:
    """Everything a lever may read. Frames are never modified."""

    requests: pl.DataFrame
    """Priced requests: canonical columns + price_model, cost_usd, cost_input_usd, cost_output_usd, unit_* prices."""
    messages: pl.DataFrame
    """request_id, seq, role, kind, component, text_hash, tokens (counted in the model's encoding, calibrated)."""
    texts: pl.DataFrame
    """text_hash, text."""
    window_days: float
    config: LeverConfig = field(default_factory=LeverConfig)
    context_patterns: tuple[re.Pattern[str], ...] = ()
    """The user's own markers of retrieved context in user messages (`context_patterns`), compiled."""
    media: pl.DataFrame | None = None
    """request_id, seq, role, kind, component, text_hash of the prompts' images, audio and files (no tokens: a
    placeholder text with a digest of the data, `coerce.media_part`); None when not given."""

    def monthly(self, amount: float) -> float:
        """An amount saved over the window, as a 30-day run-rate."""
        return round(amount / max(self.window_days, 1.0) * DAYS_PER_MONTH, 6)


@dataclass(frozen=True)
class LeverResult:
    """What one lever would have saved on this traffic."""

    name: str
    title: str
    savings_usd: float
    monthly_savings_usd: float
    affected_requests: int
    confidence: str
    """measured (replayed on the logs) | estimated (replayed with a modelled step) | scenario (a what-if)."""
    assumptions: list[str]
    details: dict[str, Any] = field(default_factory=dict)
    skipped_reason: str | None = None
    """Why the lever could not run on these logs (no prompt text, no timestamps...), when it could not."""
    savings_by_request: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    """request_id, saved_usd and group (savings are never negative per group): what `stacking.stack` applies in
    order; dropped once the levers are stacked (not an output)."""


class Lever(ABC):
    """One optimisation lever."""

    name: ClassVar[str]
    title: ClassVar[str]
    needs_tokens: ClassVar[bool] = True
    """False for a lever that reads no token count from ``context.messages``: it then runs while the
    texts are still being tokenized on the other cores, with ``tokens`` and ``context_tokens`` absent."""

    @abstractmethod
    def run(self, context: AnalysisContext) -> LeverResult:
        """Replay the lever over the context's requests."""

    def skipped(self, context: AnalysisContext, reason: str) -> LeverResult:
        """A result saying plainly that the lever could not run, and why."""
        return LeverResult(self.name, self.title, 0.0, 0.0, 0, "measured", [], {}, skipped_reason=reason)
