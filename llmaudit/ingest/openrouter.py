"""OpenRouter activity exports: one row per generation, read by column name.

The CSV from the Activity page (also accepted as JSON/JSONL with the same keys). Column
order differs between export versions and older exports lack ``tokens_cached``.

Token semantics: OpenRouter reports usage the OpenAI way. ``tokens_prompt`` is the whole
input with ``tokens_cached`` (cache reads) inside it. Reasoning tokens "are considered
output tokens and charged accordingly" (OpenRouter's reasoning-tokens docs) and the
activity export shows how many of the completion tokens were reasoning, so
``tokens_reasoning`` is a part of ``tokens_completion``. A row where a part exceeds its
whole can only have been logged beside it, and is normalised by adding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmaudit.ingest.coerce import BadValue, first, to_bool, to_cost, to_float, to_int, to_str, to_ts
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord
from llmaudit.redaction import excerpt

REQUIRED_KEYS = frozenset({"generation_id", "tokens_prompt"})
HINT_KEYS = frozenset({"model_permaslug", "cost_total", "tokens_completion"})
ERROR_FINISH_REASONS = frozenset({"error"})
MISSING_TOKENS = "missing token counts: cannot price"
ZERO_TEXTS = frozenset({"0", "0.0", "0.00"})

EXTRA_METADATA = {
    "provider_name": "openrouter_provider",
    "app_name": "openrouter_app",
    "cost_cache": "openrouter_cost_cache",
    "byok_usage_inference": "openrouter_byok_usage",
    "variant": "openrouter_variant",
    "origin_url": "openrouter_origin",
}
"""Columns kept as metadata: who served the call and how its cost splits."""


def is_activity_row(raw: dict[str, Any]) -> bool:
    """An activity-export row: a generation id, prompt tokens and a model or cost column."""
    return REQUIRED_KEYS <= raw.keys() and bool(HINT_KEYS & raw.keys())


def provider_from_slug(slug: str | None) -> str | None:
    """The model author in a permaslug (``anthropic/claude-3.5-sonnet`` -> ``anthropic``)."""
    if not slug or "/" not in slug:
        return None
    return slug.split("/", 1)[0].strip().lower() or None


def apply_activity_tokens(record: RequestRecord, raw: dict[str, Any]) -> None:
    """Canonical tokens: cached inside prompt, reasoning inside completion (see the module docstring)."""
    prompt = to_int(raw.get("tokens_prompt"), "tokens_prompt")
    completion = to_int(raw.get("tokens_completion"), "tokens_completion")
    if prompt is None and completion is None:
        if record.status != "error":
            raise BadValue(MISSING_TOKENS)
        prompt = completion = 0  # a failed generation may carry no counts
    prompt, completion = prompt or 0, completion or 0
    cached = to_int(raw.get("tokens_cached"), "tokens_cached") or 0
    reasoning = to_int(raw.get("tokens_reasoning"), "tokens_reasoning") or 0
    record.input_tokens = prompt + cached if cached > prompt else prompt
    record.cache_read_tokens = cached
    record.output_tokens = completion + reasoning if reasoning > completion else completion
    record.reasoning_tokens = reasoning


def _status(record: RequestRecord, raw: dict[str, Any]) -> None:
    """Cancelled generations and error finishes are errors (cancelled ones are still billed)."""
    if to_bool(raw.get("cancelled")):
        record.status = "error"
        record.error_type = "cancelled"
    elif (record.finish_reason or "").lower() in ERROR_FINISH_REASONS:
        record.status = "error"
        record.error_type = to_str(raw.get("finish_reason_raw")) or "error"


class OpenRouterReader(Reader):
    name = "openrouter"
    description = "OpenRouter activity export (one row per generation; CSV, or JSON/JSONL with the same keys)"
    containers = ("csv", "jsonl", "json")
    fields = (
        "request_id", "ts", "provider", "model", "endpoint", "stream", "status", "error_type", "finish_reason",
        "latency_ms", "ttft_ms", "user_id", "feature", "api_key", "input_tokens", "cache_read_tokens",
        "output_tokens", "reasoning_tokens", "cost_reported_usd", "metadata",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind == "csv":
            columns = set(sample.columns)
            return 95 if REQUIRED_KEYS <= columns and HINT_KEYS & columns else 0
        if not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_activity_row(record))
        return share_confidence(hits, len(sample.records), 90)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                if not is_activity_row(raw):
                    yield Rejection(line, "not an OpenRouter activity row: expected generation_id, tokens_prompt "
                                          "and model_permaslug or cost_total")
                    continue
                yield self._row(line, raw)
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except (KeyError, TypeError, AttributeError, ValueError, OverflowError, RecursionError) as exc:
                yield Rejection(line, excerpt(f"unexpected OpenRouter row shape: {type(exc).__name__}: {exc}", 200))

    @staticmethod
    def _row(line: int, raw: dict[str, Any]) -> RequestRecord:
        """One generation row."""
        model = first(to_str(raw.get("model_permaslug")), to_str(raw.get("model")))
        record = RequestRecord(
            source_line=line,
            request_id=to_str(raw.get("generation_id")),
            ts=to_ts(raw.get("created_at"), "created_at", required=True),
            provider=provider_from_slug(model),
            model=model,
            endpoint="chat",
            stream=to_bool(raw.get("streamed")),
            finish_reason=first(to_str(raw.get("finish_reason_normalized")), to_str(raw.get("finish_reason_raw"))),
            latency_ms=to_float(raw.get("generation_time_ms"), "generation_time_ms"),
            ttft_ms=to_float(raw.get("time_to_first_token_ms"), "time_to_first_token_ms"),
            user_id=to_str(raw.get("user")),
            feature=to_str(raw.get("app_name")),
            api_key=to_str(raw.get("api_key_name")),
            cost_reported_usd=to_cost(raw.get("cost_total"), "cost_total"),
        )
        for column, name in EXTRA_METADATA.items():
            value = to_str(raw.get(column))
            if value is not None and value not in ZERO_TEXTS:  # zero cost columns say nothing
                record.metadata[name] = value
        _status(record, raw)
        apply_activity_tokens(record, raw)
        return record
