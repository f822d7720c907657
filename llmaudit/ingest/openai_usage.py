"""OpenAI organisation usage and costs exports: aggregate buckets, not requests.

Usage comes as the dashboard CSV (one row per bucket and group) or as Usage API pages
(``{"object": "page", "data": [bucket...]}``; the container unwraps ``data``, so each
bucket is a record and yields one row per result). Costs come the same two ways. Rows
carry no prompt text: they feed the spend breakdown only (``is_aggregate``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from llmaudit.ingest.coerce import (
    MAX_TOKENS_PER_REQUEST,
    SHAPE_ERRORS,
    BadValue,
    canonical_json,
    first,
    get_path,
    to_bool,
    to_cost,
    to_float,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord, Skipped
from llmaudit.redaction import excerpt

USAGE_RESULT_PREFIX = "organization.usage."
COSTS_RESULT = "organization.costs.result"
# Result types whose usage is counted in tokens; the others (images, audio seconds, vector
# store bytes, code interpreter sessions) cannot be priced from this export.
TOKEN_RESULT_ENDPOINTS: dict[str, str | None] = {
    "organization.usage.completions.result": None,  # chat and responses are not told apart
    "organization.usage.embeddings.result": "embeddings",
    "organization.usage.moderations.result": "moderations",
}
USAGE_CSV_COLUMNS = frozenset({"num_model_requests", "input_tokens"})
COSTS_CSV_COLUMNS = frozenset({"amount_value", "start_time"})
METADATA_FIELDS = (
    "project_id", "project_name", "api_key_name", "organization_id", "organization_name", "input_audio_tokens",
    "output_audio_tokens", "input_cached_audio_tokens", "input_image_tokens", "output_image_tokens",
)
MODEL_IN_LINE_ITEM = re.compile(
    r"^(ft:|gpt-|chatgpt-|o\d|text-embedding-|text-moderation|omni-moderation|davinci|babbage|whisper|tts-"
    r"|dall-e|computer-use|codex-)",
    re.IGNORECASE,
)

Builder = Callable[[int, dict[str, Any], Any, Any], RequestRecord]
"""Builds one aggregate row from (line, fields, bucket start, bucket end)."""


def _digest(value: Any) -> str:
    return hashlib.blake2b(canonical_json(value).encode(), digest_size=6).hexdigest()


def buckets(raw: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The buckets a JSON record holds: itself, or a page's `data`; None when it is neither."""
    if raw.get("object") == "bucket":
        return [raw]
    if raw.get("object") == "page" and isinstance(raw.get("data"), list):
        return [b for b in raw["data"] if isinstance(b, dict)]
    return None


def _result_types(sample: Sample) -> set[str]:
    found: set[str] = set()
    for record in sample.records:
        for bucket in buckets(record) or []:
            for result in bucket.get("results") or bucket.get("result") or []:
                if isinstance(result, dict):
                    found.add(str(result.get("object")))
    return found


def _json_sniff(sample: Sample, wanted: Callable[[str], bool]) -> int:
    """95 when every sampled record is a bucket (or page) and every result is of the wanted kind."""
    if not sample.records or any(buckets(record) is None for record in sample.records):
        return 0
    types = _result_types(sample)
    if not types:
        return 40  # empty buckets only: either export
    return 95 if all(wanted(t) for t in types) else 0


def _bucket_results(line: int, raw: dict[str, Any], build: Builder) -> Iterator[Parsed]:
    """One output per result of every bucket in the record; an empty bucket is skipped."""
    found = buckets(raw)
    if found is None:
        yield Rejection(line, "not a usage/costs bucket (expected object 'bucket' or 'page')")
        return
    produced = False
    for bucket in found:
        results = first(bucket.get("results"), bucket.get("result"))
        if not isinstance(results, list):
            results = []
        for index, result in enumerate(results):
            produced = True
            try:
                if not isinstance(result, dict):
                    raise BadValue("a result is not an object")
                yield build(line, result, bucket.get("start_time"), bucket.get("end_time"))
            except BadValue as exc:
                yield Rejection(line, f"result {index + 1}: {exc}")
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"result {index + 1}: unexpected shape ({type(exc).__name__}: {exc})")
    if not produced:
        yield Skipped(line, "usage bucket with no results (no traffic in that period)")


def _guard(line: int, row: dict[str, Any], build: Builder) -> Parsed:
    try:
        return build(line, row, first(row.get("start_time"), row.get("start_time_iso")),
                     first(row.get("end_time"), row.get("end_time_iso")))
    except BadValue as exc:
        return Rejection(line, str(exc))
    except SHAPE_ERRORS as exc:
        return Rejection(line, f"unexpected row shape ({type(exc).__name__}: {exc})")


MAX_BUCKET_REQUESTS = 10**10
"""Requests one usage bucket can count; more is corrupt."""
MAX_BUCKET_TOKENS = 10**14
"""Tokens of a bucket that does not say how many requests it counts; more is corrupt (and sums overflow)."""


def aggregate_count(value: Any, field: str, ceiling: int = MAX_BUCKET_TOKENS) -> int | None:
    """A non-negative whole count of a bucket, which sums many requests: capped per bucket, not per request."""
    number = to_float(value, field)
    if number is None:
        return None
    if number != int(number):
        raise BadValue(f"{field} is not a whole number: {excerpt(repr(value), 60)}")
    if number < 0:
        raise BadValue(f"{field} is negative: {int(number)}")
    if number > ceiling:
        raise BadValue(f"{field} is implausibly large: {int(number)} (at most {ceiling:,} for this bucket)")
    return int(number)


def _bucket_start(value: Any) -> datetime:
    """The bucket's start, which every aggregate row must have (it dates the prices)."""
    ts = to_ts(value, "start_time", required=True)
    assert ts is not None
    return ts


def _metadata(fields: dict[str, Any], end_time: Any) -> dict[str, str]:
    meta = {name: text for name in METADATA_FIELDS if (text := to_str(fields.get(name))) is not None}
    end = to_ts(end_time, "end_time")
    if end is not None:
        meta["bucket_end"] = end.isoformat()
    return meta


def usage_record(line: int, fields: dict[str, Any], start_time: Any, end_time: Any) -> RequestRecord:
    """One usage aggregate (a CSV row or an API result): input includes cached tokens, as per request."""
    kind = fields.get("object")
    if kind is not None and kind not in TOKEN_RESULT_ENDPOINTS:
        raise BadValue(f"{kind} carries no token counts; price it from the costs export")
    ts = _bucket_start(start_time)
    requests = aggregate_count(fields.get("num_model_requests"), "num_model_requests", MAX_BUCKET_REQUESTS) or 0
    # No request reads or writes more than MAX_TOKENS_PER_REQUEST, so neither can a bucket of them.
    ceiling = requests * MAX_TOKENS_PER_REQUEST if requests else MAX_BUCKET_TOKENS
    cached = aggregate_count(fields.get("input_cached_tokens"), "input_cached_tokens", ceiling) or 0
    uncached = aggregate_count(fields.get("input_uncached_tokens"), "input_uncached_tokens", ceiling)
    total = aggregate_count(fields.get("input_tokens"), "input_tokens", ceiling)
    if total is None and uncached is not None:
        total = uncached + cached  # some exports split input instead of totalling it
    if total is None:
        raise BadValue("missing input_tokens: cannot price")
    if cached > total:
        raise BadValue(f"input_cached_tokens {cached} exceed input_tokens {total}")
    output = aggregate_count(fields.get("output_tokens"), "output_tokens", ceiling) or 0
    audio_in = aggregate_count(fields.get("input_audio_tokens"), "input_audio_tokens", ceiling) or 0
    audio_out = aggregate_count(fields.get("output_audio_tokens"), "output_audio_tokens", ceiling) or 0
    if audio_in > total or audio_out > output:
        raise BadValue(f"audio tokens ({audio_in} in, {audio_out} out) exceed input_tokens {total} or output_tokens {output}")
    model, project, key = to_str(fields.get("model")), to_str(fields.get("project_id")), to_str(fields.get("api_key_id"))
    return RequestRecord(
        source_line=line,
        request_id=f"usage:{int(ts.timestamp())}:{model or '-'}:{project or '-'}:{key or '-'}:{_digest(fields)}",
        ts=ts, provider="openai", model=model, endpoint=TOKEN_RESULT_ENDPOINTS.get(str(kind)),
        is_batch=bool(to_bool(fields.get("batch"))), service_tier=to_str(fields.get("service_tier")),
        user_id=to_str(fields.get("user_id")), api_key=key,
        input_tokens=total, cache_read_tokens=cached,
        output_tokens=output, audio_input_tokens=audio_in, audio_output_tokens=audio_out,
        request_count=requests,
        is_aggregate=True, metadata=_metadata(fields, end_time),
    )


def model_from_line_item(line_item: str | None) -> str | None:
    """The model a costs line item names ("gpt-4o-2024-08-06, input" -> "gpt-4o-2024-08-06"), else None."""
    if not line_item:
        return None
    head = line_item.split(",", 1)[0].strip()
    return head if MODEL_IN_LINE_ITEM.match(head) and " " not in head else None


def cost_record(line: int, fields: dict[str, Any], start_time: Any, end_time: Any) -> RequestRecord:
    """One costs aggregate (a CSV row or an API result): money only, no tokens."""
    amount = fields.get("amount")
    value = to_cost(first(get_path(amount, "value"), fields.get("amount_value")), "amount_value", credits=True)
    if value is None:
        raise BadValue("missing amount_value: no cost to report")
    currency = to_str(first(get_path(amount, "currency"), fields.get("amount_currency"))) or "usd"
    if currency.lower() != "usd":
        raise BadValue(f"amount_currency is {excerpt(str(currency), 40)!r}: only USD costs can be compared; export costs in USD")
    ts = _bucket_start(start_time)
    line_item = to_str(fields.get("line_item"))
    project = to_str(fields.get("project_id"))
    metadata = _metadata(fields, end_time)
    if line_item:
        metadata["line_item"] = line_item
    return RequestRecord(
        source_line=line,
        request_id=f"cost:{int(ts.timestamp())}:{line_item or '-'}:{project or '-'}:{_digest(fields)}",
        ts=ts, provider="openai", model=model_from_line_item(line_item),
        input_tokens=0, output_tokens=0, cost_reported_usd=value, request_count=0, is_aggregate=True,
        metadata=metadata,
    )


class OpenAIUsageReader(Reader):
    name = "openai_usage"
    description = "OpenAI usage export: dashboard CSV or Usage API buckets (aggregates by period, model, project, key)"
    containers = ("csv", "json", "jsonl")
    fields = (
        "ts", "model", "endpoint", "is_batch", "service_tier", "user_id", "api_key", "input_tokens",
        "cache_read_tokens", "output_tokens", "audio_input_tokens", "audio_output_tokens", "request_count",
        "is_aggregate", "metadata",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind == "csv":
            return 95 if USAGE_CSV_COLUMNS <= set(sample.columns) and "amount_value" not in sample.columns else 0
        return _json_sniff(sample, lambda t: t.startswith(USAGE_RESULT_PREFIX))

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            if raw.get("object") in ("bucket", "page"):
                yield from _bucket_results(line, raw, usage_record)
            else:
                yield _guard(line, raw, usage_record)


class OpenAICostsReader(Reader):
    name = "openai_costs"
    description = "OpenAI costs export: dashboard CSV or Costs API buckets (USD by period, line item, project)"
    containers = ("csv", "json", "jsonl")
    fields = ("ts", "model", "cost_reported_usd", "request_count", "is_aggregate", "metadata")
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind == "csv":
            return 95 if COSTS_CSV_COLUMNS <= set(sample.columns) else 0
        score = _json_sniff(sample, lambda t: t == COSTS_RESULT)
        return score - 5 if score == 40 else score  # empty buckets: prefer the usage reader

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            if raw.get("object") in ("bucket", "page"):
                yield from _bucket_results(line, raw, cost_record)
            else:
                yield _guard(line, raw, cost_record)
