"""Anthropic Messages API request and response bodies into a `RequestRecord`.

Shared by the Messages, Message Batches and Claude Code readers: they all log these two
bodies (or the usage object alone), so the semantics live in one place.

Token trap: Anthropic's ``usage.input_tokens`` counts only the tokens after the last cache
breakpoint. The canonical input is ``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens``; ``cache_creation.ephemeral_1h_input_tokens`` is the part
written with a 1 h TTL (billed 2x input rather than 1.25x).
"""

from __future__ import annotations

import json
from typing import Any

from llmaudit.ingest.coerce import (
    BadValue,
    canonical_json,
    content_parts,
    first,
    flat_metadata,
    get_path,
    output_params,
    stream_index,
    to_bool,
    to_float,
    to_int,
    to_parameter,
    to_str,
)
from llmaudit.ingest.records import Message, RequestRecord

PROVIDER = "anthropic"
# Stop reasons in Chat Completions' vocabulary, so truncation reads the same across formats.
FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
    "refusal": "content_filter", "model_context_window_exceeded": "length",
}
UNKNOWN_GEO = frozenset({"", "not_available"})
MESSAGES_OUTPUT_PARAMS = ("stop_sequences", "tool_choice", "top_k", "thinking", "output_format", "output_config")
"""Messages API parameters that change the answer, besides those with a column of their own."""


def decode_body(value: Any) -> Any:
    """A body as logged: an object or list, or the JSON text of one (many loggers store strings)."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise BadValue("body is not valid JSON text") from None
        except RecursionError:
            raise BadValue("body is nested too deeply") from None
    return value


def is_message(body: Any) -> bool:
    """A Messages API response object (``type: "message"``, role assistant)."""
    return isinstance(body, dict) and body.get("type") == "message" and body.get("role", "assistant") == "assistant"


def is_error(body: Any) -> bool:
    """An Anthropic error body: ``{type: "error", error: {type, message}}``."""
    return isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict)


def is_stream(body: Any) -> bool:
    """A list of streamed server-sent events whose first is ``message_start``."""
    return (
        isinstance(body, list) and bool(body) and isinstance(body[0], dict) and body[0].get("type") == "message_start"
    )


def is_request(body: Any) -> bool:
    """A Messages request body: a messages list plus something only Anthropic requests carry."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return False
    if "anthropic_version" in body or "system" in body or isinstance(body.get("thinking"), dict):
        return True
    tools = body.get("tools")
    if isinstance(tools, list) and any(isinstance(t, dict) and "input_schema" in t for t in tools):
        return True
    model = body.get("model")
    return isinstance(model, str) and model.startswith("claude") and "max_tokens" in body


def request_messages(body: dict[str, Any]) -> list[Message]:
    """System prompt and conversation of a request body, in prompt order."""
    out = content_parts("system", body.get("system")) if body.get("system") else []
    messages = body.get("messages")
    if messages is None:
        return out
    if not isinstance(messages, list):
        raise BadValue(f"messages has type {type(messages).__name__}, expected a list")
    for item in messages:
        if not isinstance(item, dict):
            raise BadValue("a message is not an object")
        out.extend(content_parts(str(item.get("role") or "user").lower(), item.get("content")))
    return out


def tool_schemas(tools: Any) -> list[str]:
    """``tools[]`` as canonical JSON, one text per tool; cache markers dropped (they are not prompt text)."""
    if not isinstance(tools, list):
        return []
    return [
        canonical_json({k: v for k, v in tool.items() if k != "cache_control"} if "cache_control" in tool else tool)
        for tool in tools if isinstance(tool, dict)
    ]


def cache_breakpoints(body: dict[str, Any]) -> int:
    """How many ``cache_control`` markers a request sets (tools, system blocks, message blocks, top level)."""
    count = 1 if isinstance(body.get("cache_control"), dict) else 0
    tools, system = body.get("tools"), body.get("system")
    count += _marked(tools) if isinstance(tools, list) else 0
    count += _marked(system) if isinstance(system, list) else 0
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            count += _marked(message["content"])
    return count


def _marked(blocks: list[Any]) -> int:
    """How many of ``blocks`` carry a ``cache_control`` marker."""
    count = 0
    for block in blocks:
        if isinstance(block, dict) and "cache_control" in block and isinstance(block["cache_control"], dict):
            count += 1
    return count


def apply_request(record: RequestRecord, body: Any) -> None:
    """Fill a record's prompt, tools and parameters from a Messages request body."""
    if not isinstance(body, dict):
        raise BadValue("request body is not an object")
    record.model = record.model or to_str(body.get("model"))
    record.messages = request_messages(body)
    record.tools = tool_schemas(body.get("tools"))
    record.max_tokens = to_parameter(body.get("max_tokens"))
    record.temperature = to_float(body.get("temperature"), "temperature")
    record.top_p = to_float(body.get("top_p"), "top_p")
    stream = to_bool(body.get("stream"))
    record.stream = stream if stream is not None else record.stream
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        record.user_id = record.user_id or to_str(metadata.get("user_id"))
        record.metadata.update(flat_metadata(metadata))
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        record.metadata["thinking"] = str(thinking.get("type") or "enabled")
        if thinking.get("budget_tokens") is not None:
            record.metadata["thinking_budget_tokens"] = str(thinking["budget_tokens"])
    record.output_params = output_params(body, MESSAGES_OUTPUT_PARAMS)
    breakpoints = cache_breakpoints(body)
    if breakpoints:
        record.metadata["cache_breakpoints"] = str(breakpoints)


def apply_usage(record: RequestRecord, usage: Any) -> None:
    """Canonical tokens from an Anthropic ``usage`` object: cache reads and writes are added to input."""
    if not isinstance(usage, dict):
        raise BadValue("missing usage: cannot price")
    plain = to_int(usage.get("input_tokens"), "usage.input_tokens", required=True)
    read = to_int(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens") or 0
    split = usage.get("cache_creation")
    split = split if isinstance(split, dict) else {}
    five = to_int(split.get("ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens") or 0
    hour = to_int(split.get("ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens") or 0
    # Some SDK dumps carry only the per-TTL split; their sum is the total written.
    written = to_int(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    written = five + hour if written is None else written
    if hour > written:
        raise BadValue(f"ephemeral_1h_input_tokens {hour} exceed cache_creation_input_tokens {written}")
    output = to_int(usage.get("output_tokens"), "usage.output_tokens", required=True)
    assert output is not None
    thinking = to_int(get_path(usage, "output_tokens_details", "thinking_tokens"), "thinking_tokens") or 0
    if thinking > output:
        raise BadValue(f"thinking_tokens {thinking} exceed output_tokens {output}")
    assert plain is not None
    record.input_tokens = plain + read + written
    record.cache_read_tokens = read
    record.cache_write_tokens = written
    record.cache_write_1h_tokens = hour
    record.output_tokens = output
    record.reasoning_tokens = thinking
    tier = to_str(usage.get("service_tier"))
    if tier is not None:
        record.service_tier = tier
        record.is_batch = record.is_batch or tier == "batch"
    _usage_extras(record, usage)


def _usage_extras(record: RequestRecord, usage: dict[str, Any]) -> None:
    """Where the request ran (a regional premium), and the paid server tools (kept as metadata)."""
    geo = to_str(usage.get("inference_geo"))
    if geo is not None and geo not in UNKNOWN_GEO:
        record.inference_geo = geo
    server = usage.get("server_tool_use")
    if isinstance(server, dict):
        record.web_search_requests = to_int(server.get("web_search_requests"),
                                            "server_tool_use.web_search_requests") or 0
        for name, value in server.items():
            if isinstance(value, int) and value > 0:
                record.metadata[f"server_tool_use.{name}"] = str(value)


def output_text(content: Any) -> str | None:
    """The visible output of a response: text and tool calls, thinking left out."""
    parts = [m.text for m in content_parts("assistant", content) if m.kind != "thinking"]
    return "\n".join(parts) if parts else None


def finish_reason(stop_reason: Any) -> str | None:
    """Anthropic's stop_reason in Chat Completions' vocabulary (unknown ones kept as they are)."""
    stop = to_str(stop_reason)
    return FINISH_REASONS.get(stop, stop) if stop else None


def apply_message(record: RequestRecord, message: Any) -> None:
    """Fill id, model, output, stop reason and usage from a ``type: "message"`` response object."""
    if not isinstance(message, dict):
        raise BadValue("response body is not an object")
    record.request_id = to_str(message.get("id")) or record.request_id
    record.model = to_str(message.get("model")) or record.model
    record.output_text = output_text(message.get("content"))
    record.finish_reason = finish_reason(message.get("stop_reason"))
    apply_usage(record, message.get("usage"))


def apply_error(record: RequestRecord, error: Any, fallback: str = "error") -> None:
    """Mark a failed request: Anthropic does not bill errors, so its tokens are zero."""
    inner = error.get("error") if isinstance(error, dict) and isinstance(error.get("error"), dict) else error
    record.status = "error"
    record.error_type = first(to_str(get_path(inner, "type")), to_str(get_path(inner, "code"))) or fallback
    record.input_tokens, record.output_tokens = 0, 0
    record.cache_read_tokens = record.cache_write_tokens = record.cache_write_1h_tokens = 0


def merge_stream(events: list[Any]) -> dict[str, Any]:
    """Streamed events (message_start, content_block_*, message_delta) as one message object.

    ``message_start`` carries the input usage; each ``message_delta`` carries the running
    output count (and, in newer API versions, updated input counts), so later values win.
    """
    message: dict[str, Any] = {"type": "message", "role": "assistant", "content": []}
    usage: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            start = event["message"]
            message.update({k: start[k] for k in ("id", "model", "stop_reason") if start.get(k) is not None})
            if isinstance(start.get("usage"), dict):
                usage.update(start["usage"])
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            blocks[stream_index(event)] = dict(event["content_block"])
        elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            _apply_delta(blocks.setdefault(stream_index(event), {"type": "text", "text": ""}), event["delta"])
        elif kind == "message_delta":
            if get_path(event, "delta", "stop_reason") is not None:
                message["stop_reason"] = event["delta"]["stop_reason"]
            if isinstance(event.get("usage"), dict):
                usage.update({k: v for k, v in event["usage"].items() if v is not None})
        elif kind == "error":
            return {"type": "error", "error": event.get("error") or {}}
    message["content"] = [_finish_block(blocks[i]) for i in sorted(blocks)]
    if usage:
        message["usage"] = usage
    return message



def _apply_delta(block: dict[str, Any], delta: dict[str, Any]) -> None:
    """Append one streamed delta to its content block (tool input arrives as JSON fragments)."""
    for key, target in (("text", "text"), ("thinking", "thinking"), ("partial_json", "input_json")):
        if isinstance(delta.get(key), str):
            block[target] = str(block.get(target) or "") + delta[key]


def _finish_block(block: dict[str, Any]) -> dict[str, Any]:
    """Parse a tool call's accumulated JSON input once the stream is over."""
    fragments = block.pop("input_json", None)
    if isinstance(fragments, str):
        try:
            block["input"] = json.loads(fragments)
        except (ValueError, RecursionError):
            block["input"] = fragments
    return block
