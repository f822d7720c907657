"""Helicone request exports (``@helicone/export`` / the request query API) in JSON, JSONL and CSV.

Each row is one proxied request: Helicone's own columns (tokens, cost, latency, status,
custom properties) plus, when exported with bodies, the provider request and response.
In CSV the body and property cells are JSON text (pandas-written files use Python
literals, and the old TypeScript exporter doubled its quotes); all three are decoded.

Token semantics, decided from Helicone's own processors and documented here:

* When the response body carries the provider's ``usage``, it wins: it is the provider's
  own count. OpenAI usage keeps OpenAI semantics; Anthropic usage is normalised by adding
  ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` to ``input_tokens``.
* Otherwise the columns are used. Helicone's body processors store ``prompt_tokens``
  *without* the cache columns: Anthropic's ``input_tokens`` as reported, and for OpenAI
  ``prompt_tokens - cached_tokens`` (older exports kept OpenAI's total). Anthropic rows
  therefore always add the cache columns; other rows add them when the cache exceeds
  ``prompt_tokens`` or when ``total_tokens`` equals prompt + cache + completion, keep
  ``prompt_tokens`` as the total when ``total_tokens`` equals prompt + completion, and
  otherwise follow the current processors (add).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmaudit.ingest import anthropic_common
from llmaudit.ingest.coerce import (
    BadValue,
    first,
    get_path,
    to_cost,
    to_float,
    to_int,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.gateway_common import apply_chat_output, decode_json_text, is_chat_completion
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.openai_common import apply_chat_request, apply_chat_usage
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord
from llmaudit.redaction import excerpt

REQUIRED_KEYS = frozenset({"request_created_at"})
STATUS_KEYS = ("response_status", "delay_ms")
HINT_KEYS = frozenset({
    "request_body", "request_path", "request_properties", "helicone_user", "request_user_id", "response_body",
    "prompt_cache_read_tokens", "signed_body_url",
})
PROPERTY_PREFIX = "helicone-property-"
SESSION_PROPERTIES = ("helicone-session-id", "session-id", "session_id", "sessionid")
USER_PROPERTIES = ("helicone-user-id", "user-id", "user_id", "userid")
NO_CACHE_REFERENCE = "00000000-0000-0000-0000-000000000000"
MISSING_TOKENS = "missing token counts: cannot price"

PATH_ENDPOINTS = {
    "/chat/completions": "chat",
    "/messages": "messages",
    "/responses": "responses",
    "/embeddings": "embeddings",
    "/completions": "completions",
}


def is_helicone_row(raw: dict[str, Any]) -> bool:
    """A Helicone export row: creation time, a status or delay, and a Helicone-specific column."""
    keys = raw.keys()
    return REQUIRED_KEYS <= keys and any(k in keys for k in STATUS_KEYS) and bool(HINT_KEYS & keys)


def decode_cell(value: Any, field: str) -> Any:
    """A JSON cell; the old TypeScript exporter escaped quotes twice (``{""model"": ...}``)."""
    if isinstance(value, str) and '""' in value[:20] and value.lstrip()[:1] in "{[":
        try:
            return decode_json_text(value.replace('""', '"'), field)
        except BadValue:
            pass
    return decode_json_text(value, field)


def endpoint_for(path: str | None) -> str | None:
    """The endpoint a request path names (``/v1/chat/completions`` -> ``chat``)."""
    if not path:
        return None
    clean = path.split("?", 1)[0].rstrip("/")
    for suffix, endpoint in PATH_ENDPOINTS.items():
        if clean.endswith(suffix):
            return endpoint
    return clean.rsplit("/", 1)[-1] or None


def is_anthropic(provider: str | None, path: str | None, request: Any, response: Any) -> bool:
    """An Anthropic Messages call, whose usage counts cache tokens outside ``input_tokens``."""
    if provider in ("anthropic",) or endpoint_for(path) == "messages":
        return True
    return isinstance(response, dict) and response.get("type") == "message"


def column_usage(record: RequestRecord, raw: dict[str, Any], anthropic: bool) -> None:
    """Token counts from Helicone's columns (see the module docstring for the cache rule)."""
    prompt = to_int(raw.get("prompt_tokens"), "prompt_tokens")
    completion = to_int(raw.get("completion_tokens"), "completion_tokens")
    if prompt is None and completion is None and record.status != "error":
        raise BadValue(MISSING_TOKENS)  # a failed call may carry no counts: it read and wrote nothing
    if completion is None and record.status != "error":
        raise BadValue("missing completion_tokens: cannot price the output")
    prompt = prompt or 0
    completion = completion or 0
    read = to_int(raw.get("prompt_cache_read_tokens"), "prompt_cache_read_tokens") or 0
    written = to_int(raw.get("prompt_cache_write_tokens"), "prompt_cache_write_tokens") or 0
    total = to_int(raw.get("total_tokens"), "total_tokens")
    cache = read + written
    cache_inside = cache > 0 and not anthropic and cache <= prompt and total == prompt + completion
    record.input_tokens = prompt if cache_inside or cache == 0 else prompt + cache
    record.cache_read_tokens = read
    record.cache_write_tokens = written
    record.output_tokens = completion


def body_usage(response: Any) -> dict[str, Any] | None:
    """The provider's usage object from the response body, if the export kept it."""
    usage = get_path(response, "usage")
    if isinstance(usage, dict) and ("prompt_tokens" in usage or "input_tokens" in usage):
        return usage
    return None


def is_anthropic_usage(usage: dict[str, Any], anthropic: bool) -> bool:
    """Anthropic's usage shape (cache counted outside input_tokens), not OpenAI's or the Responses API's."""
    if "prompt_tokens" in usage or "input_tokens_details" in usage:
        return False
    return anthropic or "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage


def _properties(record: RequestRecord, value: Any) -> None:
    """Helicone-Property-* headers (stored with or without the prefix) into metadata and roles."""
    props = decode_cell(value, "request_properties")
    if props is None:
        return
    if not isinstance(props, dict):
        raise BadValue("request_properties is not a JSON object")
    for key, item in props.items():
        # Properties are HTTP headers, so case-insensitive: keep them lower-cased, prefix removed.
        name = str(key).lower().removeprefix(PROPERTY_PREFIX)
        text = to_str(item)
        if text is None:
            continue
        if name in SESSION_PROPERTIES:
            record.session_id = record.session_id or text
        elif name in USER_PROPERTIES:
            record.user_id = record.user_id or text
        else:
            record.metadata[name] = text
            if name == "feature":
                record.feature = text


def _status(record: RequestRecord, value: Any) -> None:
    """HTTP status as logged; anything outside 2xx (Helicone uses negatives for timeouts) is an error."""
    status = to_float(value, "response_status")
    if status is None or 200 <= status < 300:
        return
    record.status = "error"
    record.error_type = f"http_{int(status)}"


class HeliconeReader(Reader):
    name = "helicone"
    description = "Helicone request exports (JSON, JSONL, CSV), with or without request/response bodies"
    containers = ("jsonl", "json", "csv")
    fields = (
        "request_id", "ts", "provider", "model", "endpoint", "stream", "status", "error_type",
        "finish_reason", "latency_ms", "ttft_ms", "user_id", "feature", "session_id", "temperature",
        "max_tokens", "top_p", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
        "reasoning_tokens", "audio_input_tokens", "audio_output_tokens", "cost_reported_usd", "metadata",
        "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind == "csv":
            columns = set(sample.columns)
            ok = REQUIRED_KEYS <= columns and any(k in columns for k in STATUS_KEYS) and HINT_KEYS & columns
            return 90 if ok else 0
        if not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_helicone_row(record))
        return share_confidence(hits, len(sample.records), 90)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                if not is_helicone_row(raw):
                    yield Rejection(line, "not a Helicone export row: expected request_created_at, response_status "
                                          "or delay_ms, and request_* columns")
                    continue
                yield self._row(line, raw)
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except (KeyError, TypeError, AttributeError, ValueError, OverflowError, RecursionError) as exc:
                yield Rejection(line, excerpt(f"unexpected Helicone row shape: {type(exc).__name__}: {exc}", 200))

    @staticmethod
    def _row(line: int, raw: dict[str, Any]) -> RequestRecord:
        """One export row: columns first, then bodies, then tokens (body usage over columns)."""
        provider = to_str(raw.get("provider"))
        path = first(to_str(raw.get("request_path")), to_str(raw.get("target_url")))
        request = decode_cell(raw.get("request_body"), "request_body")
        response = decode_cell(raw.get("response_body"), "response_body")
        anthropic = is_anthropic(provider.lower() if provider else None, path, request, response)
        record = RequestRecord(
            source_line=line,
            request_id=first(to_str(raw.get("request_id")), to_str(raw.get("response_id"))),
            ts=to_ts(first(raw.get("request_created_at"), raw.get("response_created_at")), "request_created_at",
                     required=True),
            provider=provider.lower() if provider else None,
            endpoint=endpoint_for(path) or ("messages" if anthropic else None),
            latency_ms=to_float(first(raw.get("delay_ms"), raw.get("latency")), "delay_ms"),
            ttft_ms=to_float(raw.get("time_to_first_token"), "time_to_first_token"),
            user_id=to_str(raw.get("request_user_id")),
            cost_reported_usd=to_cost(first(raw.get("cost"), raw.get("costUSD"), raw.get("cost_usd")), "cost"),
        )
        _properties(record, raw.get("request_properties"))
        cache_reference = to_str(raw.get("cache_reference_id"))
        if cache_reference and cache_reference != NO_CACHE_REFERENCE:
            record.metadata["helicone_cache_hit"] = "true"
            record.served_from_cache = True
        if isinstance(request, dict):
            # Gateways also send OpenAI-format bodies to Anthropic: the body's shape decides.
            anthropic_body = anthropic_common.is_request(request) or (anthropic and endpoint_for(path) != "chat")
            (anthropic_common.apply_request if anthropic_body else apply_chat_request)(record, request)
        if anthropic_common.is_stream(response):
            response = anthropic_common.merge_stream(response)
        if is_chat_completion(response):
            apply_chat_output(record, response)
        elif isinstance(response, dict) and (anthropic or anthropic_common.is_message(response)):
            record.request_id = record.request_id or to_str(response.get("id"))
            record.output_text = anthropic_common.output_text(response.get("content"))
            record.finish_reason = anthropic_common.finish_reason(response.get("stop_reason"))
        record.model = first(to_str(raw.get("response_model")), to_str(raw.get("request_model")),
                             to_str(raw.get("model")), record.model)
        _status(record, raw.get("response_status"))
        usage = body_usage(response)
        if usage is None:
            column_usage(record, raw, anthropic)
        elif is_anthropic_usage(usage, anthropic):
            anthropic_common.apply_usage(record, usage)
        else:
            apply_chat_usage(record, usage)
        return record
