"""Anthropic Messages API logs as app loggers and proxies write them.

Three shapes: ``{request, response}`` pairs (also ``request_body`` / ``response_body``, bodies
as objects or JSON text, the response possibly an HTTP envelope or a list of streamed
events), optionally with the logger's own fields beside them; and bare ``type: "message"``
response objects (no prompt). Body and usage semantics live in `anthropic_common`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmaudit.ingest.anthropic_common import (
    PROVIDER,
    apply_error,
    apply_message,
    apply_request,
    decode_body,
    is_error,
    is_message,
    is_request,
    is_stream,
    merge_stream,
)
from llmaudit.ingest.coerce import SHAPE_ERRORS, BadValue, first, flat_metadata, to_float, to_str, to_ts
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord

REQUEST_KEYS = ("request", "request_body")
RESPONSE_KEYS = ("response", "response_body")
FOREIGN_KEYS = frozenset({
    # Batch lines, LiteLLM, Helicone, Langfuse, Bedrock, Gemini, Claude Code, Codex: their own readers.
    "custom_id", "call_type", "spend", "model_group", "response_cost", "request_created_at", "request_path",
    "response_status", "request_properties", "helicone_id", "traceId", "trace_id", "usageDetails",
    "schemaType", "usageMetadata", "full_request", "generation_id", "sessionId", "payload", "requestId",
})
STATUS_KEYS = ("status_code", "http_status", "status")
FAILURE_STATUSES = frozenset({"error", "failed", "failure"})


def unwrap_response(value: Any) -> Any:
    """The response body: decoded, streamed events merged, an HTTP envelope ({status_code, body}) opened."""
    body = decode_body(value)
    if isinstance(body, dict) and "body" in body and "type" not in body and "content" not in body:
        body = decode_body(body["body"])
    if is_stream(body):
        return merge_stream(body)
    return body


def bodies(raw: dict[str, Any]) -> tuple[Any, Any]:
    """(request, response) of a logged pair; either may be None."""
    request = decode_body(first(*(raw.get(key) for key in REQUEST_KEYS)))
    response = unwrap_response(first(*(raw.get(key) for key in RESPONSE_KEYS)))
    return request, response


def is_messages_record(raw: dict[str, Any]) -> bool:
    """A logged Messages call: a bare message/error object, or a pair whose bodies are unmistakably Anthropic's."""
    if FOREIGN_KEYS & raw.keys():
        return False
    if is_message(raw) and isinstance(raw.get("content"), list):
        return True
    if is_error(raw):
        return True
    try:
        request, response = bodies(raw)
    except (BadValue, TypeError, AttributeError):
        return False
    if is_message(response) or is_error(response):
        return request is None or (isinstance(request, dict) and isinstance(request.get("messages"), list))
    return response is None and is_request(request)


def envelope_status(raw: dict[str, Any]) -> int | None:
    """The HTTP status the logger recorded, beside the bodies or in the response envelope."""
    response = raw.get("response")
    response = response if isinstance(response, dict) else {}
    for container in (raw, response):
        for key in STATUS_KEYS:
            value = container.get(key)
            if isinstance(value, int | float | str) and not isinstance(value, bool) and str(value).strip().isdigit():
                return int(str(value).strip())
    return None


def apply_envelope(record: RequestRecord, raw: dict[str, Any]) -> None:
    """Logger fields beside the bodies: time, latency, ids and attribution tags."""
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


def apply_outcome(record: RequestRecord, response: Any, raw: dict[str, Any]) -> None:
    """Usage and output of a success; zero tokens and the error type of a failure."""
    status = envelope_status(raw)
    failed = str(raw.get("status")).lower() in FAILURE_STATUSES or (status is not None and status >= 400)
    if is_error(response) or (failed and not is_message(response)):
        apply_error(record, response, fallback=f"http_{status}" if status else "error")
        return
    if response is None:
        raise BadValue("missing response: cannot price (the log has the request only)")
    if not is_message(response):
        raise BadValue("response is not an Anthropic message (type 'message') nor an error")
    apply_message(record, response)


class AnthropicMessagesReader(Reader):
    name = "anthropic_messages"
    description = "Anthropic Messages API request/response logs (app loggers, proxies) and bare message objects"
    containers = ("jsonl", "json")
    fields = (
        "request_id", "ts", "model", "endpoint", "is_batch", "stream", "status", "error_type",
        "finish_reason", "latency_ms", "user_id", "feature", "team", "session_id", "temperature",
        "max_tokens", "top_p", "service_tier", "inference_geo", "input_tokens", "cache_read_tokens",
        "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "metadata",
        "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind not in self.containers or not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_messages_record(record))
        return share_confidence(hits, len(sample.records), 95)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                yield self._record(line, raw)
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")

    @staticmethod
    def _record(line: int, raw: dict[str, Any]) -> RequestRecord:
        if FOREIGN_KEYS & raw.keys():
            raise BadValue("not an Anthropic Messages log record (fields of another format); use --format to pick it")
        record = RequestRecord(source_line=line, provider=PROVIDER, endpoint="messages")
        if is_message(raw) or is_error(raw):
            apply_outcome(record, raw, {})
            return record
        request, response = bodies(raw)
        if request is None and response is None:
            raise BadValue("no request or response body (expected request/response, request_body/response_body "
                           "or a message object)")
        apply_envelope(record, raw)
        if request is not None:
            apply_request(record, request)
        apply_outcome(record, response, raw)
        return record
