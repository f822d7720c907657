"""OpenAI Chat Completions request and response bodies into a `RequestRecord`.

Shared by the chat, batch and proxy readers: every proxy that speaks "OpenAI format" logs
these two bodies, so their semantics live in one place.
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
    to_ts,
)
from llmaudit.ingest.records import Message, RequestRecord


def chat_messages(messages: Any) -> list[Message]:
    """Chat `messages[]` into ordered input parts (tool calls of assistant turns included)."""
    if messages is None:
        return []
    if not isinstance(messages, list):
        raise BadValue(f"messages has type {type(messages).__name__}, expected a list")
    out: list[Message] = []
    for item in messages:
        if not isinstance(item, dict):
            raise BadValue("a message is not an object")
        role = str(item.get("role") or "user").lower()
        parts = content_parts(role, item.get("content"))
        if role == "tool":
            parts = [Message(role="tool", text=p.text, kind="tool_result" if p.kind == "text" else p.kind) for p in parts]
            if not parts:
                parts = [Message(role="tool", text="", kind="tool_result")]
        out.extend(parts)
        for call in item.get("tool_calls") or []:
            if isinstance(call, dict):
                fn = call.get("function") or {}
                text = f"{fn.get('name', '')}({fn.get('arguments', '')})" if isinstance(fn, dict) else canonical_json(call)
                out.append(Message(role=role, text=text, kind="tool_call"))
        legacy = item.get("function_call")
        if isinstance(legacy, dict):
            out.append(Message(role=role, text=f"{legacy.get('name', '')}({legacy.get('arguments', '')})", kind="tool_call"))
    return out


def tool_schemas(tools: Any) -> list[str]:
    """`tools[]` (or legacy `functions[]`) as canonical JSON, one text per tool."""
    if not isinstance(tools, list):
        return []
    return [canonical_json(tool) for tool in tools if isinstance(tool, dict)]


CHAT_OUTPUT_PARAMS = ("response_format", "n", "stop", "tool_choice", "parallel_tool_calls", "functions_call",
                      "function_call", "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs",
                      "reasoning_effort", "verbosity", "modalities", "audio", "prediction", "web_search_options")
"""Chat Completions parameters that change the answer, besides those with a column of their own."""
PROXY_OUTPUT_PARAMS = (*CHAT_OUTPUT_PARAMS, "stop_sequences", "top_k", "thinking")
"""The same for proxies that keep any provider's parameters in OpenAI's names (LiteLLM, Langfuse)."""


def apply_chat_request(record: RequestRecord, body: Any) -> None:
    """Fill a record's prompt and parameters from a Chat Completions request body."""
    if not isinstance(body, dict):
        raise BadValue("request body is not an object")
    record.model = record.model or to_str(body.get("model"))
    record.messages = chat_messages(body.get("messages"))
    record.tools = tool_schemas(body.get("tools") or body.get("functions"))
    record.temperature = to_float(body.get("temperature"), "temperature")
    record.top_p = to_float(body.get("top_p"), "top_p")
    record.max_tokens = to_parameter(first(body.get("max_completion_tokens"), body.get("max_tokens")))
    record.seed = to_parameter(body.get("seed"))
    stream = to_bool(body.get("stream"))
    record.stream = stream if stream is not None else record.stream
    record.user_id = record.user_id or to_str(body.get("user")) or to_str(body.get("safety_identifier"))
    if isinstance(body.get("metadata"), dict):
        record.metadata.update(flat_metadata(body["metadata"]))
    record.service_tier = record.service_tier or to_str(body.get("service_tier"))
    record.output_params = output_params(body, CHAT_OUTPUT_PARAMS)


def apply_chat_usage(record: RequestRecord, usage: Any) -> None:
    """Fill token counts from an OpenAI `usage` object (cached and reasoning are subsets)."""
    if not isinstance(usage, dict):
        raise BadValue("usage is missing or not an object")
    prompt = to_int(first(usage.get("prompt_tokens"), usage.get("input_tokens")), "prompt_tokens", required=True)
    completion = to_int(first(usage.get("completion_tokens"), usage.get("output_tokens")), "completion_tokens")
    if completion is None:
        completion = _completion_from_total(usage, prompt)
    details = first(usage.get("prompt_tokens_details"), usage.get("input_tokens_details")) or {}
    out_details = first(usage.get("completion_tokens_details"), usage.get("output_tokens_details")) or {}
    cached = to_int(get_path(details, "cached_tokens"), "cached_tokens") or 0
    written = to_int(first(get_path(details, "cache_write_tokens"), usage.get("cache_write_tokens")), "cache_write_tokens") or 0
    reasoning = to_int(get_path(out_details, "reasoning_tokens"), "reasoning_tokens") or 0
    audio_in = to_int(get_path(details, "audio_tokens"), "prompt audio_tokens") or 0
    audio_out = to_int(get_path(out_details, "audio_tokens"), "completion audio_tokens") or 0
    assert prompt is not None
    if cached + written > prompt:
        raise BadValue(f"cached_tokens {cached} exceed prompt_tokens {prompt}")
    if reasoning + audio_out > completion:
        raise BadValue(f"reasoning_tokens {reasoning} and audio_tokens {audio_out} exceed completion_tokens {completion}")
    if audio_in > prompt:
        raise BadValue(f"audio_tokens {audio_in} exceed prompt_tokens {prompt}")
    record.audio_input_tokens = audio_in
    record.audio_output_tokens = audio_out
    record.input_tokens = prompt
    record.cache_read_tokens = cached
    record.cache_write_tokens = written
    record.output_tokens = completion
    record.reasoning_tokens = reasoning


def _completion_from_total(usage: dict[str, Any], prompt: int | None) -> int:
    """The output count of a usage object that lacks completion_tokens: total_tokens less the prompt (an
    embeddings response logs prompt and total alone). Without either, the output cannot be priced."""
    total = to_int(usage.get("total_tokens"), "total_tokens")
    if total is None or prompt is None:
        raise BadValue("missing completion_tokens: cannot price the output")
    if total < prompt:
        raise BadValue(f"total_tokens {total} is less than prompt_tokens {prompt}")
    return total - prompt


def apply_chat_response(record: RequestRecord, body: Any) -> None:
    """Fill id, model, time, output, finish reason, tier and usage from a chat.completion body."""
    if not isinstance(body, dict):
        raise BadValue("response body is not an object")
    record.request_id = record.request_id or to_str(body.get("id"))
    record.model = to_str(body.get("model")) or record.model
    created = to_ts(body.get("created"), "created")
    record.ts = record.ts or created
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        record.finish_reason = to_str(choice.get("finish_reason"))
        message = choice.get("message") or choice.get("delta") or {}
        if isinstance(message, dict):
            texts = [m.text for m in content_parts("assistant", message.get("content"))]
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    texts.append(f"{call['function'].get('name', '')}({call['function'].get('arguments', '')})")
            record.output_text = "\n".join(texts) if texts else None
    record.service_tier = to_str(body.get("service_tier")) or record.service_tier
    apply_chat_usage(record, body.get("usage"))


def is_chunk_stream(body: Any) -> bool:
    """Streamed chat.completion.chunk objects, as a logger kept them (a list, or the server-sent events' text)."""
    if isinstance(body, str):
        return body.lstrip().startswith("data:") and "chat.completion.chunk" in body[:4096]
    return isinstance(body, list) and any(isinstance(c, dict) and c.get("object") == "chat.completion.chunk"
                                          for c in body[:3])


def merge_chunks(body: list[Any] | str) -> dict[str, Any]:
    """Streamed chunks as one chat.completion: content and tool-call fragments joined per choice, the last
    finish reason, and the usage the final chunk carries (``stream_options.include_usage``; none without it)."""
    chunks = _sse_events(body) if isinstance(body, str) else body
    merged: dict[str, Any] = {"object": "chat.completion"}
    choices: dict[int, _StreamedChoice] = {}
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        for key in ("id", "model", "created", "service_tier", "system_fingerprint", "usage", "error"):
            if chunk.get(key) is not None:
                merged[key] = chunk[key]
        choices_of = chunk.get("choices")
        for choice in choices_of if isinstance(choices_of, list) else []:
            if isinstance(choice, dict):
                choices.setdefault(stream_index(choice), _StreamedChoice()).add(choice)
    merged["choices"] = [choices[i].finished(i) for i in sorted(choices)]
    return merged


def _sse_events(text: str) -> list[Any]:
    """The JSON objects of server-sent events' ``data:`` lines (``[DONE]`` and broken lines left out)."""
    events = []
    for line in text.splitlines():
        data = line.strip()
        if not data.startswith("data:"):
            continue
        data = data[5:].strip()
        if data and data != "[DONE]":
            try:
                events.append(json.loads(data))
            except (ValueError, RecursionError):
                continue
    return events



class _StreamedChoice:
    """One choice's deltas, joined: its text, its tool calls by their index, its last finish reason."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: Any = None

    def add(self, choice: dict[str, Any]) -> None:
        if choice.get("finish_reason") is not None:
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        if isinstance(delta.get("content"), str):
            self.content.append(delta["content"])
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if not isinstance(call, dict):
                continue
            index = call["index"] if isinstance(call.get("index"), int) else len(self.calls)
            kept = self.calls.setdefault(index, {"type": "function", "function": {"name": "", "arguments": ""}})
            function = call["function"] if isinstance(call.get("function"), dict) else {}
            for key in ("name", "arguments"):
                if isinstance(function.get(key), str):
                    kept["function"][key] += function[key]
            if call.get("id") is not None:
                kept["id"] = call["id"]

    def finished(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content) or None}
        if self.calls:
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        return {"index": index, "message": message, "finish_reason": self.finish_reason}
