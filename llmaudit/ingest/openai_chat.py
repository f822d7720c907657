"""OpenAI Chat Completions logs as proxies and app loggers write them.

Three shapes: ``{request, response}`` pairs (also ``request_body`` / ``response_body``),
optionally with the logger's own metadata beside them, and bare ``chat.completion``
response objects (no prompt). Body semantics live in `openai_common`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from llmaudit.ingest.coerce import (
    SHAPE_ERRORS,
    BadValue,
    first,
    flat_metadata,
    get_path,
    to_float,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.openai_common import (
    apply_chat_request,
    apply_chat_response,
    is_chunk_stream,
    merge_chunks,
)
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord

REQUEST_KEYS = ("request", "request_body")
RESPONSE_KEYS = ("response", "response_body")
FOREIGN_KEYS = frozenset({
    # Batch lines, LiteLLM, Helicone, Langfuse, Bedrock, Gemini, Claude Code: their own readers.
    "custom_id", "call_type", "spend", "model_group", "response_cost", "request_created_at", "request_path",
    "response_status", "request_properties", "helicone_id", "traceId", "trace_id", "usageDetails",
    "schemaType", "usageMetadata", "full_request", "generation_id", "sessionId", "payload",
})
STATUS_KEYS = ("status_code", "http_status", "status")
FAILURE_STATUSES = frozenset({"error", "failed", "failure"})


def decode_body(value: Any) -> Any:
    """A body as logged: an object, or the JSON text of one (many loggers store bodies as strings)."""
    if isinstance(value, str) and value.strip()[:1] == "{":
        try:
            return json.loads(value)
        except ValueError:
            raise BadValue("body is not valid JSON text") from None
        except RecursionError:
            raise BadValue("body is nested too deeply") from None
    return value


def _body(raw: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value = first(*(raw.get(key) for key in keys))
    if is_chunk_stream(value):  # a streamed response, kept as its chunks
        return merge_chunks(value)
    value = decode_body(value)
    # Some loggers keep the HTTP envelope: {status_code, body}.
    if isinstance(value, dict) and isinstance(value.get("body"), dict | str) and "choices" not in value:
        inner = decode_body(value["body"])
        if isinstance(inner, dict):
            return inner
    return value


def is_chat_response(body: Any) -> bool:
    """A chat.completion body (or an error body standing in for one)."""
    if not isinstance(body, dict):
        return False
    if body.get("object") == "chat.completion":
        return True
    return body.get("object") is None and (isinstance(body.get("choices"), list) or "error" in body)


def is_chat_record(raw: dict[str, Any]) -> bool:
    """A logged chat call: request+response pair with a messages request, or a bare chat.completion."""
    if FOREIGN_KEYS & raw.keys():
        return False
    if raw.get("object") == "chat.completion":
        return True
    try:
        request, response = _body(raw, REQUEST_KEYS), _body(raw, RESPONSE_KEYS)
    except BadValue:
        return False
    return isinstance(request, dict) and isinstance(request.get("messages"), list) and is_chat_response(response)


class OpenAIChatReader(Reader):
    name = "openai_chat"
    description = "OpenAI Chat Completions request/response logs (proxy or app loggers) and bare chat.completion objects"
    containers = ("jsonl", "json")
    fields = (
        "request_id", "ts", "model", "endpoint", "stream", "status", "error_type", "finish_reason",
        "latency_ms", "user_id", "feature", "team", "session_id", "temperature", "max_tokens", "seed",
        "top_p", "service_tier", "input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens",
        "audio_input_tokens", "audio_output_tokens", "metadata", "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind not in self.containers or not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_chat_record(record))
        return share_confidence(hits, len(sample.records), 90)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                yield self._record(line, raw)
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")

    def _record(self, line: int, raw: dict[str, Any]) -> RequestRecord:
        if FOREIGN_KEYS & raw.keys():
            raise BadValue("not an OpenAI chat log record (fields of another format); use --format to pick it")
        record = RequestRecord(source_line=line, provider="openai", endpoint="chat")
        if raw.get("object") == "chat.completion":
            apply_response(record, raw, http_status=None)
            return record
        request, response = _body(raw, REQUEST_KEYS), _body(raw, RESPONSE_KEYS)
        if request is None and response is None:
            raise BadValue("no request or response body (expected request/response or request_body/response_body)")
        apply_envelope(record, raw)
        if request is not None:
            apply_chat_request(record, request)
        logged_failure = str(raw.get("status")).lower() in FAILURE_STATUSES
        streamed = is_chunk_stream(first(*(raw.get(key) for key in RESPONSE_KEYS)))
        if streamed:
            record.stream = True
            if isinstance(response, dict) and "usage" not in response and "error" not in response:
                raise BadValue("streamed response without usage (the request did not set"
                               " stream_options.include_usage): cannot price")
        apply_response(record, response, http_status=envelope_status(raw), logged_failure=logged_failure)
        return record


def envelope_status(raw: dict[str, Any]) -> int | None:
    """The HTTP status the logger recorded, wherever it put it (numeric values only)."""
    for container in (raw, raw.get("response") if isinstance(raw.get("response"), dict) else None):
        if container is None:
            continue
        for key in STATUS_KEYS:
            value = container.get(key)
            if isinstance(value, int | float | str) and str(value).strip().isdigit():
                return int(str(value).strip())
    return None


def apply_envelope(record: RequestRecord, raw: dict[str, Any]) -> None:
    """Logger metadata beside the bodies: time, latency, ids and attribution tags."""
    record.ts = to_ts(first(raw.get("timestamp"), raw.get("created_at"), raw.get("start_time")), "timestamp")
    record.latency_ms = to_float(first(raw.get("latency_ms"), raw.get("duration_ms")), "latency_ms")
    record.request_id = to_str(first(raw.get("request_id"), raw.get("id")))
    for key in ("metadata", "tags"):
        if raw.get(key) is not None:
            record.metadata.update(flat_metadata(raw[key]))
    record.user_id = to_str(first(raw.get("user"), raw.get("user_id")))
    record.feature = to_str(raw.get("feature"))
    record.team = to_str(raw.get("team"))
    record.session_id = to_str(raw.get("session_id"))


def apply_response(record: RequestRecord, response: Any, http_status: int | None, logged_failure: bool = False) -> None:
    """Fill outcome and usage; an error response keeps its usage if any, else zero tokens."""
    error = get_path(response, "error") if isinstance(response, dict) else None
    failed = bool(error) or logged_failure or (http_status is not None and http_status >= 400)
    if not failed:
        if not isinstance(response, dict):
            raise BadValue("missing response body: cannot price")
        if not isinstance(response.get("usage"), dict):
            raise BadValue("missing usage: cannot price")
        # The provider's completion id wins over a logger's own id.
        record.request_id = to_str(response.get("id")) or record.request_id
        apply_chat_response(record, response)
        return
    record.status = "error"
    record.error_type = (
        to_str(get_path(error, "code")) or to_str(get_path(error, "type"))
        or (f"http_{http_status}" if http_status else None) or "error"
    )
    record.input_tokens, record.output_tokens = 0, 0
    if isinstance(response, dict) and isinstance(response.get("usage"), dict):
        record.request_id = to_str(response.get("id")) or record.request_id
        apply_chat_response(record, response)
