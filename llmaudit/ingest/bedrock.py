"""AWS Bedrock model invocation logs (``schemaType: ModelInvocationLog``).

Records come from S3 (JSONL, often gzipped) or CloudWatch (the same object, or wrapped in
an ``@message`` / ``message`` string, or flattened to dotted keys by Logs Insights).
Token trap, Anthropic semantics: ``inputTokenCount`` excludes cache reads and writes, so
the canonical input is ``inputTokenCount + cacheReadInputTokenCount + cacheWriteInputTokenCount``.
Prompts are read from Anthropic Messages bodies (InvokeModel), Converse / Nova bodies and
the single-prompt bodies of other model families.
"""

from __future__ import annotations

import json
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
from llmaudit.redaction import excerpt

SCHEMA_TYPE = "ModelInvocationLog"
WRAPPER_KEYS = ("@message", "message")
# Stop reasons in Chat Completions' vocabulary, so truncation reads the same across formats.
FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "stop": "stop", "complete": "stop",
    "max_tokens": "length", "length": "length", "tool_use": "tool_calls",
    "content_filtered": "content_filter", "guardrail_intervened": "content_filter",
}
BEDROCK_OWN_COLUMNS = frozenset({"temperature", "topP", "maxTokens", "maxTokenCount"})
BEDROCK_OUTPUT_PARAMS = ("stop_sequences", "top_k", "tool_choice", "thinking", "additionalModelRequestFields",
                         "toolConfig", "stopSequences", "stop")
"""Request fields that change the answer (Converse's and the models' own bodies), besides those with a column."""
MEDIA_BLOCKS = {"image": "image", "document": "file", "video": "file", "audio": "audio"}
PROMPT_KEYS = ("prompt", "inputText", "message")


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value


def _unflatten(raw: dict[str, Any]) -> dict[str, Any]:
    """Logs Insights exports dotted keys ("input.inputTokenCount"); rebuild the nesting."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        node = out
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {}) if isinstance(node.get(parent, {}), dict) else {}
        node[leaf] = value
    return out


def invocation(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The invocation log inside a record (as is, wrapped by CloudWatch, or flattened); None when absent."""
    if raw.get("schemaType") == SCHEMA_TYPE:
        return _unflatten(raw) if any("." in key for key in raw) else raw
    for key in WRAPPER_KEYS:
        inner = _decode(raw.get(key))
        if isinstance(inner, dict) and inner.get("schemaType") == SCHEMA_TYPE:
            return inner
    return None


def _converse_block(role: str, block: dict[str, Any]) -> Message | None:
    """One Converse content block that is not plain text; None for cache points."""
    for name, kind in MEDIA_BLOCKS.items():
        if name in block:
            return media_part(role, kind, block[name])
    if isinstance(block.get("toolUse"), dict):
        use = block["toolUse"]
        return Message(role=role, text=f"{use.get('name', '')}({canonical_json(use.get('input', {}))})", kind="tool_call")
    if isinstance(block.get("toolResult"), dict):
        parts = block["toolResult"].get("content") or []
        texts = [p["text"] if isinstance(p.get("text"), str) else canonical_json(p.get("json", p)) for p in parts if isinstance(p, dict)]
        return Message(role="tool", text="\n".join(texts), kind="tool_result")
    if "reasoningContent" in block:
        text = get_path(block, "reasoningContent", "reasoningText", "text") or ""
        return Message(role=role, text=str(text), kind="thinking")
    if "cachePoint" in block:
        return None
    if isinstance(get_path(block, "guardContent", "text", "text"), str):
        return Message(role=role, text=block["guardContent"]["text"]["text"])
    return Message(role=role, text=canonical_json(block))


def block_messages(role: str, content: Any) -> list[Message]:
    """A message's content in either dialect: Anthropic typed blocks or Converse keyed blocks."""
    if not isinstance(content, list):
        return content_parts(role, content)
    out: list[Message] = []
    texts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if "type" in block:
            parts = content_parts(role, [block])
        elif isinstance(block.get("text"), str):
            parts = [Message(role=role, text=block["text"])]
        else:
            found = _converse_block(role, block)
            parts = [found] if found is not None else []
        for part in parts:
            if part.kind == "text" and part.role == role:
                texts.append(part.text)
                continue
            if texts:
                out.append(Message(role=role, text="\n".join(texts)))
                texts.clear()
            out.append(part)
    if texts:
        out.append(Message(role=role, text="\n".join(texts)))
    return out


def prompt_messages(body: dict[str, Any]) -> list[Message]:
    """System and conversation of a request body (Anthropic, Converse, Nova, or single-prompt models)."""
    out = block_messages("system", body["system"]) if body.get("system") else []
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                role = str(message.get("role") or "user").lower()
                out.extend(block_messages(role, message.get("content")))
        return out
    prompt = first(*(body.get(key) for key in PROMPT_KEYS))
    if isinstance(prompt, str):
        out.append(Message(role="user", text=prompt))
    return out


def tool_schemas(body: dict[str, Any]) -> list[str]:
    """Anthropic `tools[]` or Converse `toolConfig.tools[].toolSpec`, one canonical JSON text each."""
    tools = first(get_path(body, "toolConfig", "tools"), body.get("tools"))
    out: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and "cachePoint" not in tool:
            out.append(canonical_json(tool.get("toolSpec", tool)))
    return out


def apply_input_body(record: RequestRecord, body: Any) -> None:
    """Prompt, tools and parameters from `inputBodyJson`; absent bodies (S3 offload, text logging off) are fine."""
    body = _decode(body)
    if not isinstance(body, dict):
        return
    record.messages = prompt_messages(body)
    record.tools = tool_schemas(body)
    config = first(body.get("inferenceConfig"), body.get("textGenerationConfig")) or {}
    record.temperature = to_float(first(body.get("temperature"), get_path(config, "temperature")), "temperature")
    record.top_p = to_float(first(body.get("top_p"), get_path(config, "topP")), "top_p")
    record.max_tokens = to_parameter(
        first(body.get("max_tokens"), body.get("max_gen_len"), get_path(config, "maxTokens"), get_path(config, "maxTokenCount"))
    )
    settings = {k: body.get(k) for k in BEDROCK_OUTPUT_PARAMS}
    if isinstance(config, dict):
        settings["inference"] = {k: v for k, v in config.items() if k not in BEDROCK_OWN_COLUMNS} or None
    record.output_params = output_params(settings)
    if body.get("anthropic_version") is not None:
        record.endpoint = "messages"


def _chunk_text(chunk: dict[str, Any]) -> str | None:
    return first(
        get_path(chunk, "delta", "text"), get_path(chunk, "contentBlockDelta", "delta", "text"),
        chunk.get("outputText"), chunk.get("generation"),
    )


def _merge_stream(chunks: list[Any]) -> dict[str, Any]:
    """Streamed output chunks (Anthropic events, ConverseStream events, others) as one body."""
    texts: list[str] = []
    merged: dict[str, Any] = {}
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        text = _chunk_text(chunk)
        if isinstance(text, str):
            texts.append(text)
        stop = first(get_path(chunk, "delta", "stop_reason"), get_path(chunk, "messageStop", "stopReason"),
                     chunk.get("completionReason"), chunk.get("stop_reason"))
        if stop:
            merged["stop_reason"] = stop
        metrics = chunk.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            merged["latency"], merged["ttft"] = metrics.get("invocationLatency"), metrics.get("firstByteLatency")
        if get_path(chunk, "metadata", "metrics", "latencyMs") is not None:
            merged["latency"] = get_path(chunk, "metadata", "metrics", "latencyMs")
    merged["text"] = "".join(texts) or None
    return merged


def _output_summary(body: Any) -> dict[str, Any]:
    """Text, stop reason, latencies and the Anthropic usage object of an output body."""
    body = _decode(body)
    if isinstance(body, list):
        return _merge_stream(body)
    if not isinstance(body, dict):
        return {}
    content = first(get_path(body, "output", "message", "content"), body.get("content"))
    parts = [m for m in block_messages("assistant", content) if m.kind != "thinking"] if content else []
    text = "\n".join(m.text for m in parts) or first(
        body.get("generation"), get_path(body, "results", 0, "outputText"), get_path(body, "outputs", 0, "text"),
        body.get("text"), get_path(body, "generations", 0, "text"), body.get("completion"),
    )
    return {
        "text": text, "stop_reason": first(body.get("stopReason"), body.get("stop_reason"), body.get("finish_reason"),
                                           get_path(body, "results", 0, "completionReason")),
        "latency": get_path(body, "metrics", "latencyMs"), "usage": body.get("usage"),
    }


def _principal(arn: str | None) -> str | None:
    """The caller's name in an IAM/STS ARN ("...:assumed-role/Role/session" -> "Role/session")."""
    if not arn:
        return None
    resource = arn.split(":", 5)[-1]
    return resource.split("/", 1)[1] if "/" in resource else resource


def apply_tokens(record: RequestRecord, log: dict[str, Any], usage: Any) -> None:
    """Canonical tokens: Bedrock's input count excludes cache reads and writes, so they are added."""
    given = get_path(log, "input", "inputTokenCount")
    if given is None and record.status == "error":
        record.input_tokens, record.output_tokens = 0, 0
        return
    if given is None:
        raise BadValue("missing input.inputTokenCount: cannot price")
    plain = to_int(given, "input.inputTokenCount", required=True)  # "" is as missing as None
    read = to_int(get_path(log, "input", "cacheReadInputTokenCount"), "input.cacheReadInputTokenCount") or 0
    write = to_int(get_path(log, "input", "cacheWriteInputTokenCount"), "input.cacheWriteInputTokenCount") or 0
    assert plain is not None
    record.input_tokens = plain + read + write
    record.cache_read_tokens = read
    record.cache_write_tokens = write
    # Only Anthropic bodies split writes by TTL; 1 h writes cost more than 5 min ones.
    hour = to_int(get_path(usage, "cache_creation", "ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens")
    if hour:
        if hour > write:
            raise BadValue(f"ephemeral_1h_input_tokens {hour} exceed cacheWriteInputTokenCount {write}")
        record.cache_write_1h_tokens = hour
    # A failed call may log what it read and no output; a successful one without an output count cannot be priced.
    output = to_int(get_path(log, "output", "outputTokenCount"), "output.outputTokenCount",
                    required=record.status != "error")
    record.output_tokens = output or 0


def invocation_record(line: int, log: dict[str, Any]) -> RequestRecord:
    """One invocation log as a canonical request."""
    operation = str(log.get("operation") or "")
    arn = to_str(get_path(log, "identity", "arn"))
    record = RequestRecord(
        source_line=line, request_id=to_str(log.get("requestId")), provider="aws",
        ts=to_ts(log.get("timestamp"), "timestamp", required=True), model=to_str(log.get("modelId")),
        endpoint="converse" if operation.startswith("Converse") else "invoke",
        stream=operation.endswith("Stream") if operation else None, api_key=arn, user_id=_principal(arn),
    )
    if log.get("modelId") is None:
        raise BadValue("missing modelId: cannot price")
    for key, name in (("region", "region"), ("inferenceRegion", "inference_region"), ("accountId", "account_id")):
        if to_str(log.get(key)):
            record.metadata[name] = str(log[key])
    if isinstance(log.get("requestMetadata"), dict):
        record.metadata.update(flat_metadata(log["requestMetadata"]))
    if to_str(log.get("errorCode")):
        record.status, record.error_type = "error", str(log["errorCode"])
    apply_input_body(record, get_path(log, "input", "inputBodyJson"))
    summary = _output_summary(get_path(log, "output", "outputBodyJson"))
    record.output_text = to_str(summary.get("text"))
    stop = to_str(summary.get("stop_reason"))
    record.finish_reason = FINISH_REASONS.get(stop.lower(), stop.lower()) if stop else None
    record.latency_ms = to_float(summary.get("latency"), "latency")
    record.ttft_ms = to_float(summary.get("ttft"), "firstByteLatency")
    apply_tokens(record, log, summary.get("usage"))
    return record


def _names_invocation(raw: dict[str, Any]) -> bool:
    """For sniffing: an invocation log, or a CloudWatch message that names one but is cut short or corrupt."""
    if invocation(raw) is not None:
        return True
    return any(isinstance(raw.get(key), str) and f'"{SCHEMA_TYPE}"' in raw[key][:400] for key in WRAPPER_KEYS)


def _not_an_invocation(raw: dict[str, Any]) -> str:
    """Why a record is not an invocation log: a CloudWatch message that is not JSON (cut short), or no schemaType."""
    for key in WRAPPER_KEYS:
        value = raw.get(key)
        if not isinstance(value, str) or value.strip()[:1] not in ("{", "["):
            continue
        try:
            json.loads(value)
        except RecursionError:
            return f"{key} is nested too deeply: cannot read the invocation log"
        except ValueError:
            return f"{key} is not valid JSON text (cut short or corrupt): cannot read the invocation log"
    return f"not a Bedrock invocation log (schemaType {excerpt(str(raw.get('schemaType')), 40)!r})"


class BedrockReader(Reader):
    name = "bedrock"
    description = "AWS Bedrock model invocation logs (S3 or CloudWatch; InvokeModel and Converse, streaming too)"
    containers = ("jsonl", "json", "csv")
    fields = (
        "request_id", "ts", "model", "endpoint", "stream", "status", "error_type", "finish_reason", "latency_ms",
        "ttft_ms", "user_id", "api_key", "temperature", "max_tokens", "top_p", "input_tokens", "cache_read_tokens",
        "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "metadata", "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind not in self.containers or not sample.records:
            return 0
        hits = sum(1 for record in sample.records if _names_invocation(record))
        return share_confidence(hits, len(sample.records), 98)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                log = invocation(raw)
                if log is None:
                    raise BadValue(_not_an_invocation(raw))
                yield invocation_record(line, log)
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")
