"""Gemini API and Vertex AI generateContent logs.

Shapes: bare responses (``usageMetadata``, ``candidates``, ``modelVersion``), ``{request,
response}`` pairs (also Vertex batch prediction output, which adds ``processed_time``),
Gemini Batch API output lines (``{key, response}``) and Vertex request-response logging
rows (``full_request`` / ``full_response``). camelCase (REST) and snake_case (Python SDK
dumps) field names are both read.

Token trap: ``thoughtsTokenCount`` is *not* part of ``candidatesTokenCount`` (both are
billed as output), while ``promptTokenCount`` already includes ``cachedContentTokenCount``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from llmaudit.ingest.coerce import (
    SHAPE_ERRORS,
    BadValue,
    canonical_json,
    first,
    flat_metadata,
    media_part,
    output_params,
    to_float,
    to_int,
    to_parameter,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord

ROLES = {"model": "assistant", "user": "user", "function": "tool", "tool": "tool", "system": "system"}
# Gemini's finish reasons in Chat Completions' vocabulary, so truncation reads the same across formats.
FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "PROHIBITED_CONTENT": "content_filter"}
MEDIA_KINDS = {"image": "image", "audio": "audio"}
_CAMEL = re.compile(r"(?<!^)([A-Z])")


def field(obj: Any, name: str) -> Any:
    """A camelCase field, or its snake_case spelling (Python SDK dumps); None when absent."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(name)
    return value if value is not None else obj.get(_CAMEL.sub(r"_\1", name).lower())


def decode(value: Any) -> Any:
    """A body as logged: an object or list, or the JSON text of one (BigQuery JSON columns)."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise BadValue("body is not valid JSON text") from None
        except RecursionError:
            raise BadValue("body is nested too deeply") from None
    return value


def is_response(body: Any) -> bool:
    """A GenerateContentResponse, a list of streamed chunks of one, or an error body."""
    if isinstance(body, list):
        return bool(body) and all(is_response(chunk) for chunk in body)
    if not isinstance(body, dict):
        return False
    if field(body, "usageMetadata") is not None or field(body, "promptFeedback") is not None:
        return True
    return isinstance(body.get("candidates"), list) and field(body, "modelVersion") is not None


def _parts_of_row(raw: dict[str, Any]) -> tuple[Any, Any] | None:
    """(request, response) of a record in any accepted shape; None when it is not a Gemini record."""
    if "schemaType" in raw or "custom_id" in raw:
        return None
    if is_response(raw):
        return None, raw
    for request_key, response_key in (("full_request", "full_response"), ("request", "response")):
        if response_key in raw:
            try:
                request, response = decode(raw.get(request_key)), decode(raw.get(response_key))
            except BadValue:
                return None
            if is_response(response) or (isinstance(response, dict) and "error" in response and "contents" in (request or {})):
                return request, response
    if "key" in raw and ("error" in raw or is_response(raw.get("response"))):
        return None, raw.get("response")
    return None


def is_gemini_record(raw: dict[str, Any]) -> bool:
    """Any accepted shape; Vertex logging rows count even for partner models (parse rejects those)."""
    return _parts_of_row(raw) is not None or ("full_response" in raw and "api_method" in raw)


def _media_kind(data: Any) -> str:
    mime = str(field(data, "mimeType") or "")
    return MEDIA_KINDS.get(mime.split("/", 1)[0], "file")


def part_messages(role: str, parts: Any) -> list[Message]:
    """A Content's `parts` as prompt parts: text joined, media as placeholders, calls and results apart."""
    if isinstance(parts, str | dict):
        parts = [parts]
    out: list[Message] = []
    texts: list[str] = []

    def flush() -> None:
        if texts:
            out.append(Message(role=role, text="\n".join(texts)))
            texts.clear()

    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, str):
            texts.append(part)
        elif not isinstance(part, dict):
            continue
        elif isinstance(part.get("text"), str) and not part.get("thought"):
            texts.append(part["text"])
        else:
            flush()
            out.append(_special_part(role, part))
    flush()
    return out


def _special_part(role: str, part: dict[str, Any]) -> Message:
    if part.get("thought"):
        return Message(role=role, text=str(part.get("text") or ""), kind="thinking")
    media = first(field(part, "inlineData"), field(part, "fileData"))
    if media is not None:
        return media_part(role, _media_kind(media), media)
    call = field(part, "functionCall")
    if isinstance(call, dict):
        return Message(role=role, text=f"{call.get('name', '')}({canonical_json(call.get('args', {}))})", kind="tool_call")
    result = field(part, "functionResponse")
    if isinstance(result, dict):
        return Message(role="tool", text=canonical_json(result.get("response", {})), kind="tool_result")
    return Message(role=role, text=canonical_json(part))


def contents_messages(contents: Any) -> list[Message]:
    """`contents[]` (a list of {role, parts}, one Content, or a plain string) in prompt order."""
    if contents is None:
        return []
    if isinstance(contents, str):
        return [Message(role="user", text=contents)]
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list):
        raise BadValue(f"contents has type {type(contents).__name__}, expected a list")
    out: list[Message] = []
    for content in contents:
        if isinstance(content, str):
            out.append(Message(role="user", text=content))
        elif isinstance(content, dict):
            role = ROLES.get(str(content.get("role") or "user").lower(), "user")
            out.extend(part_messages(role, content.get("parts")))
    return out


def tool_schemas(tools: Any) -> list[str]:
    """One canonical JSON text per function declaration; built-in tools (search, code) as they are."""
    out: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        declarations = field(tool, "functionDeclarations")
        if isinstance(declarations, list):
            out.extend(canonical_json(d) for d in declarations if isinstance(d, dict))
        elif isinstance(tool, dict):
            out.append(canonical_json(tool))
    return out


def model_name(value: Any) -> str | None:
    """`models/gemini-2.5-flash` or a Vertex resource path reduced to the model id."""
    text = to_str(value)
    return text.rsplit("models/", 1)[-1] if text else None


GEMINI_OWN_COLUMNS = frozenset({"temperature", "topP", "top_p", "maxOutputTokens", "max_output_tokens", "seed",
                                "systemInstruction", "system_instruction", "tools", "labels", "httpOptions",
                                "http_options"})
"""generationConfig (or the SDK's config) keys with a column of their own, or no effect on the answer: every other
one (stop sequences, response schema, candidate count, thinking budget...) changes it."""


def apply_request(record: RequestRecord, body: Any) -> None:
    """Prompt, tools, parameters and labels from a generateContent request body."""
    if not isinstance(body, dict):
        raise BadValue("request body is not an object")
    # The Python SDK nests system instruction, tools and parameters in `config`.
    config = first(field(body, "generationConfig"), field(body, "config")) or {}
    system = first(field(body, "systemInstruction"), field(config, "systemInstruction"))
    system_parts = part_messages("system", field(system, "parts") if isinstance(system, dict) else system)
    record.messages = system_parts + contents_messages(body.get("contents"))
    record.tools = tool_schemas(first(body.get("tools"), field(config, "tools")))
    record.model = record.model or model_name(body.get("model"))
    record.temperature = to_float(field(config, "temperature"), "generationConfig.temperature")
    record.top_p = to_float(field(config, "topP"), "generationConfig.topP")
    record.max_tokens = to_parameter(field(config, "maxOutputTokens"))
    record.seed = to_parameter(field(config, "seed"))
    settings = {key: value for key, value in (config.items() if isinstance(config, dict) else ())
                if key not in GEMINI_OWN_COLUMNS}
    settings.update({key: body[key] for key in ("toolConfig", "tool_config", "safetySettings", "safety_settings")
                     if body.get(key) is not None})
    record.output_params = output_params(settings)
    # Vertex labels are how teams attribute Gemini spend.
    if isinstance(body.get("labels"), dict):
        record.metadata.update(flat_metadata(body["labels"]))


def apply_usage(record: RequestRecord, usage: Any) -> None:
    """Canonical tokens: input = prompt (cached included) + tool-use prompt; output = candidates + thoughts."""
    if not isinstance(usage, dict):
        raise BadValue("missing usageMetadata: cannot price")
    prompt = to_int(field(usage, "promptTokenCount"), "usageMetadata.promptTokenCount", required=True)
    cached = to_int(field(usage, "cachedContentTokenCount"), "usageMetadata.cachedContentTokenCount") or 0
    candidates = to_int(field(usage, "candidatesTokenCount"), "usageMetadata.candidatesTokenCount") or 0
    thoughts = to_int(field(usage, "thoughtsTokenCount"), "usageMetadata.thoughtsTokenCount") or 0
    tool_prompt = to_int(field(usage, "toolUsePromptTokenCount"), "usageMetadata.toolUsePromptTokenCount") or 0
    assert prompt is not None
    if cached > prompt:
        raise BadValue(f"usageMetadata.cachedContentTokenCount {cached} exceeds promptTokenCount {prompt}")
    audio_in = _modality_tokens(field(usage, "promptTokensDetails"), "AUDIO", "usageMetadata.promptTokensDetails")
    audio_out = _modality_tokens(field(usage, "candidatesTokensDetails"), "AUDIO", "usageMetadata.candidatesTokensDetails")
    if audio_in > prompt or audio_out > candidates:
        raise BadValue(f"usageMetadata: audio tokens ({audio_in} in, {audio_out} out) exceed the prompt or candidates count")
    record.input_tokens = prompt + tool_prompt
    record.cache_read_tokens = cached
    record.output_tokens = candidates + thoughts
    record.reasoning_tokens = thoughts
    record.audio_input_tokens = audio_in
    record.audio_output_tokens = audio_out
    if to_str(field(usage, "trafficType")):
        record.metadata["traffic_type"] = str(field(usage, "trafficType"))


def _modality_tokens(details: Any, modality: str, name: str) -> int:
    """Tokens of one modality in a ``*TokensDetails`` list (``[{modality: "AUDIO", tokenCount: 96000}, ...]``)."""
    if not isinstance(details, list):
        return 0
    return sum(to_int(field(item, "tokenCount"), f"{name}.tokenCount") or 0 for item in details
               if isinstance(item, dict) and str(field(item, "modality") or "").upper() == modality)


def _is_plain_text(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")


def _merge_chunks(chunks: list[Any]) -> dict[str, Any]:
    """A streamed response as one: text parts in order, the last usage and finish reason."""
    merged: dict[str, Any] = {}
    parts: list[Any] = []
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        for key in ("usageMetadata", "modelVersion", "responseId", "promptFeedback", "error"):
            if field(chunk, key) is not None:
                merged[key] = field(chunk, key)
        if merged.get("createTime") is None:
            merged["createTime"] = field(chunk, "createTime")
        candidates = chunk.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
        chunk_parts = field(field(candidate, "content"), "parts")
        for part in chunk_parts if isinstance(chunk_parts, list) else []:
            # Streamed text arrives in fragments of one part: glue them back without separators.
            if parts and _is_plain_text(part) and _is_plain_text(parts[-1]):
                parts[-1] = {"text": parts[-1]["text"] + part["text"]}
            else:
                parts.append(part)
        if field(candidate, "finishReason"):
            merged["finishReason"] = field(candidate, "finishReason")
    merged["candidates"] = [{"content": {"role": "model", "parts": parts}, "finishReason": merged.pop("finishReason", None)}]
    return merged


def apply_response(record: RequestRecord, body: Any) -> None:
    """Id, model, time, outcome, output and usage from a GenerateContentResponse (or its chunks)."""
    if isinstance(body, list):
        body = _merge_chunks(body)
        record.stream = True
    if not isinstance(body, dict):
        raise BadValue("missing response: cannot price")
    record.request_id = to_str(field(body, "responseId")) or record.request_id
    record.model = model_name(field(body, "modelVersion")) or record.model
    record.ts = record.ts or to_ts(field(body, "createTime"), "createTime")
    error = body.get("error")
    if error:
        _apply_error(record, error, body)
        return
    candidates = body.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict) else {}
    output = [m for m in part_messages("assistant", field(field(candidate, "content"), "parts")) if m.kind != "thinking"]
    record.output_text = "\n".join(m.text for m in output) or None
    reason = to_str(first(field(candidate, "finishReason"), field(field(body, "promptFeedback"), "blockReason")))
    if reason is not None:
        reason = FINISH_REASONS.get(reason, reason.lower())
        record.finish_reason = "tool_calls" if reason == "stop" and any(m.kind == "tool_call" for m in output) else reason
    apply_usage(record, field(body, "usageMetadata"))


def _apply_error(record: RequestRecord, error: Any, body: dict[str, Any]) -> None:
    record.status = "error"
    code = (error.get("status") or error.get("code")) if isinstance(error, dict) else None
    record.error_type = to_str(code) or "error"
    record.input_tokens, record.output_tokens = 0, 0
    if isinstance(field(body, "usageMetadata"), dict):
        apply_usage(record, field(body, "usageMetadata"))


class GeminiReader(Reader):
    name = "gemini"
    description = "Gemini API / Vertex AI generateContent responses, request/response pairs, batch output and Vertex logging rows"
    containers = ("jsonl", "json")
    fields = (
        "request_id", "ts", "model", "endpoint", "is_batch", "stream", "status", "error_type",
        "finish_reason", "temperature", "max_tokens", "seed", "top_p", "input_tokens", "cache_read_tokens",
        "output_tokens", "reasoning_tokens", "audio_input_tokens", "audio_output_tokens", "metadata",
        "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind not in self.containers or not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_gemini_record(record))
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
        api_method = str(raw.get("api_method") or "")
        if "rawpredict" in api_method.lower():
            raise BadValue(f"Vertex {api_method} row: a partner model (e.g. Claude), not a Gemini response")
        found = _parts_of_row(raw)
        if found is None:
            raise BadValue("not a Gemini record (expected usageMetadata/candidates, request+response or full_response)")
        request, response = found
        record = RequestRecord(
            source_line=line, provider="google", endpoint="generate_content",
            # Vertex batch output rows carry processed_time; Gemini Batch API lines carry key.
            is_batch="processed_time" in raw or "key" in raw,
            stream=True if "stream" in api_method.lower() else None,
            request_id=to_str(raw.get("request_id")),
            ts=to_ts(first(raw.get("timestamp"), raw.get("logging_time"), raw.get("processed_time")), "timestamp"),
            model=model_name(raw.get("model")),
        )
        if isinstance(raw.get("metadata"), dict | str):
            record.metadata.update(flat_metadata(raw["metadata"]))
        if request is not None:
            apply_request(record, request)
        if response is None and isinstance(raw.get("error"), dict):
            _apply_error(record, raw["error"], {})
            return record
        apply_response(record, response)
        return record
