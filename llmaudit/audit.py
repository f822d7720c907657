"""The orchestrator: ingest -> store -> pricing -> breakdowns -> AuditResult."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from llmaudit.config import AuditConfig
from llmaudit.errors import InputError, LlmAuditError, StrictModeError
from llmaudit.heap import return_free_memory
from llmaudit.ingest.pipeline import IngestReport, ingest_files
from llmaudit.ingest.reader_choice import forced_reader
from llmaudit.ingest.source import expand_inputs
from llmaudit.store import Store
from llmaudit.table import TableBuilder, empty_requests

if TYPE_CHECKING:
    from llmaudit.pricing.overrides import PriceOverride
    from llmaudit.result import AuditResult

Progress = Callable[[str, int], None]
ANALYSIS_MODULES = ("llmaudit.result", "llmaudit.breakdown", "llmaudit.pricing.costs", "llmaudit.pricing.overrides",
                    "llmaudit.analyses.registry", "llmaudit.tokens.attribution", "llmaudit.tokens.encodings")
"""What the analysis imports (genai-prices, scipy, scikit-learn: half a second), imported on a thread while the
files are read: the reading starts without waiting for them."""


def _load_in_background() -> threading.Thread:
    """Import the analysis, then build the encodings the counting will surely need, beside the reading."""

    def load() -> None:
        for module in ANALYSIS_MODULES:
            importlib.import_module(module)
        from llmaudit.tokens.encodings import PROXY_ENCODING, load_encoding

        with contextlib.suppress(LlmAuditError):  # the counting says what is missing, where it needs it
            load_encoding(PROXY_ENCODING)  # 0.23 s to build; it also counts the newer OpenAI models

    thread = threading.Thread(target=load, name="llmaudit-imports", daemon=True)
    thread.start()
    return thread


def run_audit(config: AuditConfig, on_progress: Progress | None = None) -> AuditResult:
    """Run the whole audit described by ``config`` and return its frozen result."""
    loading = _load_in_background()
    try:  # the imports end before anything forks (the token counters: no module half imported in a child),
        # and before the interpreter does, whatever stops the reading (a bad prices file, SIGTERM)
        overrides, (requests, messages, texts, report) = _read(config, on_progress)
    finally:
        loading.join()
    from llmaudit import breakdown as bd
    from llmaudit.analyses.interface import AnalysisContext
    from llmaudit.analyses.registry import run_levers_in_two_steps
    from llmaudit.analyses.stacking import stack
    from llmaudit.pricing.costs import compute_costs
    from llmaudit.pricing.report import pricing_report
    from llmaudit.pricing.resolver import PriceResolver
    from llmaudit.result import SCHEMA_VERSION, AuditResult, IngestSummary
    from llmaudit.tokens.attribution import PendingAttribution
    from llmaudit.tokens.context_blocks import compile_patterns

    if config.strict and report.rejected:
        raise StrictModeError(f"--strict: {report.rejected} record(s) rejected (first: {_first_reject(report)})")
    resolver = PriceResolver(overrides)
    priced = compute_costs(requests, resolver, config.as_of)
    window = bd.window_of(priced)
    # Tokenizing the prompts runs on the other cores while the levers that need no token count run here.
    patterns = compile_patterns(config.context_patterns)
    pending = PendingAttribution(priced, messages, texts, patterns)
    del messages, requests  # the attribution holds what it needs: the rest can go (memory follows unique text)
    prompt_texts = texts.select("text_hash", "text")

    def with_tokens() -> AnalysisContext:
        return AnalysisContext(priced, pending.message_tokens(), prompt_texts, window.days, config.levers, patterns,
                               pending.media_parts)

    try:
        early = AnalysisContext(priced, pending.prompt_parts, prompt_texts, window.days, config.levers, patterns,
                                pending.media_parts)
        levers = run_levers_in_two_steps(early, with_tokens, pending.wait_for_counts)
        stacked = stack(levers, early)
        levers = [dataclasses.replace(lever, savings_by_request=None) for lever in levers]
        attribution = pending.finish()[0]
    finally:
        pending.cancel()
    return AuditResult(
        schema_version=SCHEMA_VERSION,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        window=window,
        ingest=IngestSummary(
            report.records_read, report.requests, report.duplicates, report.rejected, report.skipped,
            report.rejects, dict(sorted(report.skipped_reasons.items())), report.files, report.unrecognised_files,
            merged_halves=report.merged_halves,
        ),
        summary=bd.summary_of(priced, window),
        by_model=bd.breakdown(priced, pl.col("model"), detail=["price_model", "price_provider"]),
        by_feature=bd.breakdown(priced, pl.col("feature")),
        by_user=bd.breakdown(priced, pl.col("user_id"), limit=config.top_n),
        by_day=bd.breakdown(priced, pl.col("ts").dt.date(), chronological=True),
        by_team=bd.breakdown(priced, pl.col("team")),
        pricing=pricing_report(priced, config.as_of),
        attribution=attribution,
        levers=levers,
        stacked=stacked,
        store_path=str(config.db_path) if config.db_path else None,
    )


Tables = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, IngestReport]


def _read(config: AuditConfig, on_progress: Progress | None) -> tuple[dict[str, PriceOverride], Tables]:
    """The price overrides (a bad file fails before the reading), then the inputs read into the store."""
    overrides: dict[str, PriceOverride] = {}
    if config.prices_file:
        from llmaudit.pricing.overrides import load_price_overrides

        overrides = load_price_overrides(config.prices_file)
    store = Store(config.db_path)
    try:
        return overrides, _ingest(config, store, on_progress)
    finally:
        store.close()


def _ingest(config: AuditConfig, store: Store, on_progress: Progress | None) -> Tables:
    """Read the inputs into the store; with no inputs, analyse what the store already holds."""
    if not config.inputs:
        if config.db_path is None or not Path(config.db_path).exists():
            raise InputError("no input files given, and no existing --db store to analyse")
        stored, messages = store.requests_and_messages()
        if stored.height == 0:
            raise InputError(f"{config.db_path}: the store holds no requests")
        return stored, messages, store.texts(), store.stored_report(stored.height)
    files = expand_inputs(list(config.inputs))
    # The texts are memory-mapped from files unlinked at once: the folder is empty when it goes.
    with tempfile.TemporaryDirectory(prefix="llmaudit-texts-", ignore_cleanup_errors=True) as spill_dir:
        builder = TableBuilder(config.feature_keys, config.user_keys, config.team_keys, spill_dir=spill_dir)
        waiting = store.waiting_halves() if config.db_path is not None else []
        joined = store.joined_among if config.db_path is not None else None
        report = ingest_files(files, builder, forced_reader(config), on_progress, waiting, joined)
        if not report.files and report.unrecognised_files:
            first = report.unrecognised_files[0]
            raise InputError(f"no log was read: none of the {len(report.unrecognised_files):,} input files is a log"
                             f" of a known format ({first.reason})")
        requests = builder.requests_frame() if report.requests else empty_requests()
        messages, texts = builder.messages_frame(), builder.texts_frame()
    del builder
    gc.collect()  # the reading left cycles behind (hundreds of MB on a large log): free them before the analysis
    return_free_memory()
    if config.db_path is not None:
        # An in-memory store would be closed unread: skip the copy of every text and message.
        store.write(requests, messages, texts, report.superseded)
        store.write_report(report)
        store.write_halves(report)
    return requests, messages, texts, report


def _first_reject(report: IngestReport) -> str:
    if not report.rejects:
        return "?"
    first = report.rejects[0]
    return f"{first.file}:{first.line}: {first.reason}"
