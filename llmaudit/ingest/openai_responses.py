"""OpenAI Responses API logs: response objects, alone or paired with their request.

Shapes: a bare ``response`` object (it echoes instructions, tools and parameters but not
``input``), a ``response.completed`` stream event wrapping one, and ``{request, response}``
pairs (also ``request_body`` / ``response_body``). Usage semantics equal Chat Completions'
(cached and reasoning tokens are subsets), so `openai_common.apply_chat_usage` reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmaudit.ingest.coerce import (
    SHAPE_ERRORS,
    BadValue,
    canonical_json,
    content_parts,
    first,
    flat_metadata,
    get_path,
    output_params,
    to_bool,
    to_float,
    to_parameter,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.openai_chat import FOREIGN_KEYS, apply_envelope, decode_body, envelope_status
from llmaudit.ingest.openai_common import apply_chat_usage, tool_schemas
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord

STREAM_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
FAILED_STATUSES = frozenset({"failed", "cancelled"})
UNFINISHED_STATUSES = frozenset({"in_progress", "queued"})
# Mapped to Chat Completions' vocabulary so truncation reads the same across formats.
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _unwrap_event(raw: dict[str, Any]) -> dict[str, Any]:
    """A streamed `response.completed` event carries the final response object."""
    if raw.get("type") in STREAM_FINAL_EVENTS and isinstance(raw.get("response"), dict):
        return raw["response"]
    return raw


def _pair(raw: dict[str, Any]) -> tuple[Any, Any]:
    request = decode_body(first(raw.get("request"), raw.get("request_body")))
    response = decode_body(first(raw.get("response"), raw.get("response_body")))
    if isinstance(response, dict):
        response = _unwrap_event(response)
    return request, response


def is_responses_record(raw: dict[str, Any]) -> bool:
    """A Responses API object, its final stream event, or a request/response pair of one."""
    if FOREIGN_KEYS & raw.keys():
        return False
    if _unwrap_event(raw).get("object") == "response":
        return True
    try:
        request, response = _pair(raw)
    except BadValue:
        return False
    if isinstance(response, dict) and response.get("object") == "response":
        return True
    return (
        isinstance(request, dict) and "input" in request and "messages" not in request
        and isinstance(response, dict) and isinstance(response.get("output"), list)
    )


def _item_message(item: Any, default_role: str) -> list[Message]:
    """One input item (message, tool call, tool output, reasoning) as prompt parts."""
    if isinstance(item, str):
        return [Message(role=default_role, text=item)]
    if not isinstance(item, dict):
        raise BadValue("an input item is not an object or a string")
    kind = str(item.get("type") or "message")
    if kind == "message" or (kind in ("input_text", "text") and "role" in item):
        return content_parts(str(item.get("role") or default_role).lower(), item.get("content"))
    if kind in ("function_call", "custom_tool_call"):
        arguments = first(item.get("arguments"), item.get("input"), "")
        return [Message(role="assistant", text=f"{item.get('name', '')}({arguments})", kind="tool_call")]
    if kind in ("function_call_output", "custom_tool_call_output") or kind.endswith("_call_output"):
        output = item.get("output")
        text = output if isinstance(output, str) else "\n".join(m.text for m in content_parts("tool", output))
        return [Message(role="tool", text=text, kind="tool_result")]
    if kind == "reasoning":
        summary = [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
        return [Message(role="assistant", text="\n".join(summary) or "[reasoning]", kind="thinking")]
    if kind == "item_reference":
        return []  # stored server-side: its tokens are in usage, its text is not in the log
    if kind.endswith("_call"):
        return [Message(role="assistant", text=canonical_json(item), kind="tool_call")]
    return [Message(role=default_role, text=canonical_json(item))]


def response_input(value: Any, default_role: str = "user") -> list[Message]:
    """`input` or `instructions` (a string or a list of items) as ordered prompt parts."""
    if value is None:
        return []
    if isinstance(value, str):
        return [Message(role=default_role, text=value)]
    if not isinstance(value, list):
        raise BadValue(f"input has type {type(value).__name__}, expected a string or a list")
    return [part for item in value for part in _item_message(item, default_role)]


def output_text(output: Any) -> tuple[str | None, bool]:
    """The visible output (message text and function calls) and whether a tool was called."""
    texts: list[str] = []
    called = False
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(first(part.get("text"), part.get("refusal")), str):
                    texts.append(first(part.get("text"), part.get("refusal")))
        elif item.get("type") in ("function_call", "custom_tool_call"):
            called = True
            texts.append(f"{item.get('name', '')}({first(item.get('arguments'), item.get('input'), '')})")
        elif str(item.get("type", "")).endswith("_call"):
            called = True
    return ("\n".join(texts) if texts else None), called


RESPONSES_OUTPUT_PARAMS = ("text", "reasoning", "tool_choice", "parallel_tool_calls", "top_logprobs", "truncation",
                           "include", "prompt")
"""Responses API parameters that change the answer, besides those with a column of their own (``prompt``: a
stored prompt template and its variables)."""


def apply_responses_request(record: RequestRecord, body: dict[str, Any]) -> None:
    """Prompt and parameters from a request body, or those a response object echoes back."""
    instructions = response_input(body.get("instructions"), default_role="system")
    prompt = response_input(body.get("input"))
    # A request's prompt wins over the instructions a response object echoes back.
    if not record.messages:
        record.messages = instructions + prompt
    record.tools = record.tools or tool_schemas(body.get("tools"))
    record.model = record.model or to_str(body.get("model"))
    record.temperature = first(record.temperature, to_float(body.get("temperature"), "temperature"))
    record.top_p = first(record.top_p, to_float(body.get("top_p"), "top_p"))
    record.max_tokens = first(record.max_tokens, to_parameter(body.get("max_output_tokens")))
    stream = to_bool(body.get("stream"))
    record.stream = stream if stream is not None else record.stream
    record.user_id = record.user_id or to_str(body.get("user")) or to_str(body.get("safety_identifier"))
    if isinstance(body.get("metadata"), dict):
        record.metadata.update(flat_metadata(body["metadata"]))
    if to_str(body.get("previous_response_id")):
        # The earlier turns live server-side: the logged prompt is only this turn.
        record.metadata["previous_response_id"] = str(body["previous_response_id"])
    record.service_tier = record.service_tier or to_str(body.get("service_tier"))
    record.output_params = record.output_params or output_params(body, RESPONSES_OUTPUT_PARAMS)


def apply_responses_response(record: RequestRecord, body: Any) -> None:
    """Id, time, outcome, served tier, output and usage from a response object."""
    if not isinstance(body, dict):
        raise BadValue("response body is not an object")
    status = str(body.get("status") or "completed").lower()
    if status in UNFINISHED_STATUSES:
        raise BadValue(f"response status is {status}: no final usage was logged")
    record.request_id = to_str(body.get("id")) or record.request_id
    record.model = to_str(body.get("model")) or record.model
    record.ts = record.ts or to_ts(body.get("created_at"), "created_at")
    # The response reports the tier that actually served the request.
    record.service_tier = to_str(body.get("service_tier")) or record.service_tier
    apply_responses_request(record, body)
    record.output_text, called = output_text(body.get("output"))
    error = body.get("error")
    if status in FAILED_STATUSES or error:
        _apply_failure(record, body, status)
        return
    if status == "incomplete":
        reason = str(get_path(body, "incomplete_details", "reason") or "incomplete")
        record.finish_reason = INCOMPLETE_REASONS.get(reason, reason)
    else:
        record.finish_reason = "tool_calls" if called else "stop"
    if not isinstance(body.get("usage"), dict):
        raise BadValue("missing usage: cannot price")
    apply_chat_usage(record, body["usage"])


def _apply_failure(record: RequestRecord, body: dict[str, Any], status: str) -> None:
    record.status = "error"
    error = body.get("error")
    record.error_type = to_str(get_path(error, "code")) or to_str(get_path(error, "type")) or status
    record.input_tokens, record.output_tokens = 0, 0
    if isinstance(body.get("usage"), dict):
        apply_chat_usage(record, body["usage"])


class OpenAIResponsesReader(Reader):
    name = "openai_responses"
    description = "OpenAI Responses API objects (bare, final stream events, or request/response pairs)"
    containers = ("jsonl", "json")
    fields = (
        "request_id", "ts", "model", "endpoint", "stream", "status", "error_type", "finish_reason",
        "latency_ms", "user_id", "feature", "team", "session_id", "temperature", "max_tokens", "top_p",
        "service_tier", "input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens",
        "audio_input_tokens", "audio_output_tokens", "metadata", "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind not in self.containers or not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_responses_record(record))
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
            raise BadValue("not an OpenAI Responses log record (fields of another format); use --format to pick it")
        record = RequestRecord(source_line=line, provider="openai", endpoint="responses")
        bare = _unwrap_event(raw)
        if bare.get("object") == "response":
            apply_responses_response(record, bare)
            return record
        request, response = _pair(raw)
        if response is None:
            raise BadValue("no response body (expected a response object or request/response fields)")
        apply_envelope(record, raw)
        if request is not None:
            if not isinstance(request, dict):
                raise BadValue("request body is not an object")
            apply_responses_request(record, request)
        http_status = envelope_status(raw)
        if http_status is not None and http_status >= 400 and isinstance(response, dict):
            _apply_failure(record, response, f"http_{http_status}")
            record.model = to_str(response.get("model")) or record.model
            return record
        apply_responses_response(record, response)
        return record
