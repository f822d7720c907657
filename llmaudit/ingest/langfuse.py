"""Langfuse observations: API/UI exports (camelCase) and blob-storage exports (snake_case).

Files come as a JSON array or ``{"data": [...]}`` page, JSONL, or CSV (structured cells as
JSON text). Only ``GENERATION`` (and ``EMBEDDING``) observations are model calls; spans,
events, tools and the other observation types are skipped.

Token semantics: Langfuse's SDK integrations move every ``*_tokens_details`` entry out of
the base count: ``usageDetails.input`` is seen *excluding* ``input_cached_tokens`` (and
audio), ``output`` excluding ``output_reasoning_tokens``; Anthropic-style keys
(``cache_read_input_tokens``, ``cache_creation_input_tokens``) are outside ``input`` too.
So the canonical input is ``input`` plus every input-side detail, and the output is
``output`` plus every output-side detail. When ``total`` is given it is checked: a total
equal to ``input + output`` shows the details were already inside and nothing is added.
Old-style ``usage{input, output, total, unit}`` / ``promptTokens`` / ``completionTokens``
carry no detail and are read as totals.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from llmaudit.ingest.coerce import (
    BadValue,
    canonical_json,
    content_parts,
    first,
    flat_metadata,
    get_path,
    output_params,
    to_bool,
    to_cost,
    to_float,
    to_int,
    to_parameter,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.gateway_common import decode_json_text, ms_between
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.openai_common import PROXY_OUTPUT_PARAMS, chat_messages, tool_schemas
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord, Skipped
from llmaudit.redaction import excerpt

REQUEST_TYPES = {"GENERATION": "chat", "EMBEDDING": "embeddings"}
"""Observation types that are model calls, and the endpoint each one is."""

GENERIC_NAMES = frozenset({
    "openai-generation", "openai-embedding", "chatopenai", "azurechatopenai", "chatanthropic", "chatlitellm",
    "chatvertexai", "chatgooglegenerativeai", "chatbedrock", "chatbedrockconverse", "litellm-completion",
    "litellm-acompletion", "generation", "llm", "openai", "anthropic",
})
"""Names integrations give every generation: they say nothing about the feature."""

FEATURE_KEYS = ("feature", "use_case", "usecase", "app", "application")
PROVIDER_KEYS = ("ls_provider", "provider", "llm_provider", "gen_ai.system")
MISSING_TOKENS = "missing token counts: cannot price"
INPUT_KEYS = ("input", "input_tokens", "promptTokens", "prompt_tokens")
OUTPUT_KEYS = ("output", "output_tokens", "completionTokens", "completion_tokens")
TOTAL_KEYS = ("total", "total_tokens", "totalTokens")
BASE_KEYS = frozenset(k.lower() for k in (*INPUT_KEYS, *OUTPUT_KEYS, *TOTAL_KEYS, "unit"))

# Both spellings of every field: (camelCase API/UI export, snake_case blob export).
FIELDS = {
    "trace_id": ("traceId", "trace_id"),
    "start": ("startTime", "start_time"),
    "end": ("endTime", "end_time"),
    "first_token": ("completionStartTime", "completion_start_time"),
    "model": ("model", "provided_model_name"),
    "parameters": ("modelParameters", "model_parameters"),
    "usage_details": ("usageDetails", "usage_details"),
    "provided_usage": ("providedUsageDetails", "provided_usage_details"),
    "cost_details": ("costDetails", "cost_details"),
    "total_cost": ("calculatedTotalCost", "total_cost"),
    "prompt_name": ("promptName", "prompt_name"),
    "prompt_version": ("promptVersion", "prompt_version"),
    "status_message": ("statusMessage", "status_message"),
    "user_id": ("userId", "user_id"),
    "session_id": ("sessionId", "session_id"),
    "trace_name": ("traceName", "trace_name"),
    "ttft": ("timeToFirstToken", "time_to_first_token"),
}


def field(raw: dict[str, Any], name: str) -> Any:
    """A field in whichever spelling the export uses."""
    camel, snake = FIELDS[name]
    return first(raw.get(camel), raw.get(snake))


def is_observation(raw: dict[str, Any]) -> bool:
    """A Langfuse observation: an id, a trace id, a type and a start time in either spelling."""
    return (
        "id" in raw
        and "type" in raw
        and field(raw, "trace_id") is not None
        and field(raw, "start") is not None
    )


def _detail_side(key: str) -> str | None:
    """Which side of the call a usage-detail key counts: input, output, or neither (base keys, totals)."""
    name = key.lower()
    if name in BASE_KEYS or "modality" in name:
        return None
    if name.startswith("input") or name.endswith("input_tokens") or name.startswith("cache"):
        return "input"
    if name.startswith("output"):
        return "output"
    return None


def _details(usage: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Input-side and output-side detail counts of a usageDetails object."""
    inputs: dict[str, int] = {}
    outputs: dict[str, int] = {}
    for key, value in usage.items():
        side = _detail_side(str(key))
        if side is None or isinstance(value, dict | list):
            continue
        count = to_int(value, f"usageDetails.{key}") or 0
        (inputs if side == "input" else outputs)[str(key).lower()] = count
    return inputs, outputs


def _cache_counts(inputs: dict[str, int]) -> tuple[int, int, int]:
    """Cache reads, cache writes and 1 h writes among the input-side details."""
    # Each detail was subtracted from ``input`` on its own, so the keys are disjoint parts.
    read = sum(v for k, v in inputs.items() if "cache" in k and ("read" in k or "cached" in k))
    written = sum(v for k, v in inputs.items() if "cache" in k and ("creation" in k or "write" in k))
    written_1h = sum(v for k, v in inputs.items() if "cache" in k and "1h" in k)
    return read, written, written_1h


def apply_usage_details(record: RequestRecord, usage: dict[str, Any]) -> None:
    """Canonical tokens from a usageDetails object (see the module docstring for the rule)."""
    base_in = to_int(first(*(usage.get(key) for key in INPUT_KEYS)), "usage input") or 0
    base_out = to_int(first(*(usage.get(key) for key in OUTPUT_KEYS)), "usage output") or 0
    total = to_int(first(*(usage.get(key) for key in TOTAL_KEYS)), "usage total")
    inputs, outputs = _details(usage)
    extra_in, extra_out = sum(inputs.values()), sum(outputs.values())
    # No call reads nothing: all-zero usage means the producer sent none (failed calls excepted).
    if base_in + base_out + extra_in + extra_out == 0 and record.status != "error":
        raise BadValue(MISSING_TOKENS)
    # Langfuse's integrations subtract the details; a total equal to input + output means this
    # producer did not, and the details are already inside the base counts.
    details_inside = (
        total is not None and (extra_in or extra_out) and total == base_in + base_out
        and extra_in <= base_in and extra_out <= base_out  # parts can only be inside a whole at least as big
    )
    read, written, written_1h = _cache_counts(inputs)
    reasoning = sum(v for k, v in outputs.items() if "reasoning" in k)
    record.input_tokens = base_in if details_inside else base_in + extra_in
    record.output_tokens = base_out if details_inside else base_out + extra_out
    record.cache_read_tokens = read
    record.cache_write_tokens = written
    record.cache_write_1h_tokens = min(written_1h, written)
    record.reasoning_tokens = reasoning


def _usage(raw: dict[str, Any]) -> dict[str, Any]:
    """The usage object in the richest form the export has: usageDetails, usage, or top-level counts.

    Empty when there is none; `apply_usage_details` decides whether that is acceptable.
    """
    for value in (field(raw, "usage_details"), field(raw, "provided_usage"), raw.get("usage")):
        decoded = decode_json_text(value, "usageDetails")
        if isinstance(decoded, dict) and decoded:
            return decoded
    top = {key: raw.get(key) for key in ("promptTokens", "completionTokens", "totalTokens") if raw.get(key) is not None}
    return top


def prompt_messages(value: Any) -> list[Message]:
    """A generation's input: chat messages, ``{messages: [...]}``, a prompt string or anything else as text."""
    if value is None:
        return []
    if isinstance(value, str):
        return [Message(role="user", text=value)]
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return chat_messages(value)
    return [Message(role="user", text=canonical_json(value))]


def output_text(value: Any) -> str | None:
    """The completion text: a string, an assistant message, a chat.completion or other JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        message = first(get_path(value, "choices", 0, "message"), value)
        if isinstance(message, dict) and "content" in message:
            texts = [part.text for part in content_parts("assistant", message.get("content"))]
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    texts.append(f"{call['function'].get('name', '')}({call['function'].get('arguments', '')})")
            return "\n".join(texts) if texts else None
    return canonical_json(value)


def _feature(metadata: dict[str, Any], raw: dict[str, Any]) -> str | None:
    """Feature from explicit metadata, the managed prompt, the trace name, then a non-generic name."""
    for key in FEATURE_KEYS:
        value = to_str(metadata.get(key))
        if value:
            return value
    name = to_str(raw.get("name"))
    if name and name.lower() in GENERIC_NAMES:
        name = None
    return first(to_str(field(raw, "prompt_name")), to_str(field(raw, "trace_name")), name)


def _parameters(record: RequestRecord, value: Any) -> None:
    """Sampling parameters as Langfuse keeps them (values are often strings)."""
    params = decode_json_text(value, "modelParameters")
    if not isinstance(params, dict):
        return
    record.temperature = to_float(params.get("temperature"), "temperature")
    record.top_p = to_float(params.get("top_p"), "top_p")
    record.max_tokens = to_parameter(
        first(params.get("max_completion_tokens"), params.get("max_tokens"), params.get("maxTokens"))
    )
    record.seed = to_parameter(params.get("seed"))
    record.output_params = output_params(params, PROXY_OUTPUT_PARAMS)
    stream = to_bool(params.get("stream"))
    record.stream = stream if stream is not None else record.stream
    record.tools = tool_schemas(params.get("tools"))


def _timing(record: RequestRecord, raw: dict[str, Any], start: datetime | None) -> None:
    """Latency and time to first token from timestamps; the API's seconds fields as fallback."""
    end = to_ts(field(raw, "end"), "endTime")
    first_token = to_ts(field(raw, "first_token"), "completionStartTime")
    record.latency_ms = ms_between(start, end)
    if record.latency_ms is None:
        seconds = to_float(raw.get("latency"), "latency")
        record.latency_ms = round(seconds * 1000, 3) if seconds is not None else None
    record.ttft_ms = ms_between(start, first_token)
    if record.ttft_ms is None:
        seconds = to_float(field(raw, "ttft"), "timeToFirstToken")
        record.ttft_ms = round(seconds * 1000, 3) if seconds is not None else None


def _cost(raw: dict[str, Any]) -> float | None:
    """The cost Langfuse recorded: calculatedTotalCost / total_cost, else costDetails.total."""
    total = to_cost(field(raw, "total_cost"), "calculatedTotalCost")
    if total is not None:
        return total
    details = decode_json_text(field(raw, "cost_details"), "costDetails")
    if isinstance(details, dict):
        return to_cost(details.get("total"), "costDetails.total")
    return None


class LangfuseReader(Reader):
    name = "langfuse"
    description = "Langfuse observations export (API/UI camelCase or blob snake_case; JSON, JSONL, CSV)"
    containers = ("jsonl", "json", "csv")
    fields = (
        "request_id", "ts", "provider", "model", "endpoint", "stream", "status", "error_type", "latency_ms",
        "ttft_ms", "user_id", "feature", "session_id", "template", "temperature", "max_tokens", "top_p", "seed",
        "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
        "cost_reported_usd", "metadata", "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind == "csv":
            columns = set(sample.columns)
            camel = {"id", "type", "traceId", "startTime"} <= columns
            snake = {"id", "type", "trace_id", "start_time"} <= columns
            return 90 if camel or snake else 0
        if not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_observation(record))
        return share_confidence(hits, len(sample.records), 90)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                if not is_observation(raw):
                    yield Rejection(line, "not a Langfuse observation: expected id, type, traceId/trace_id and "
                                          "startTime/start_time")
                    continue
                kind = (to_str(raw.get("type")) or "").upper()
                if kind not in REQUEST_TYPES:
                    yield Skipped(line, f"Langfuse {kind or 'untyped'} observation is not a model call")
                    continue
                yield self._generation(line, raw, REQUEST_TYPES[kind])
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except (KeyError, TypeError, AttributeError, ValueError, OverflowError, RecursionError) as exc:
                yield Rejection(line, excerpt(f"unexpected Langfuse observation shape: {type(exc).__name__}: {exc}", 200))

    @staticmethod
    def _generation(line: int, raw: dict[str, Any], endpoint: str) -> RequestRecord:
        """One GENERATION (or EMBEDDING) observation."""
        metadata_value = decode_json_text(raw.get("metadata"), "metadata")
        metadata = metadata_value if isinstance(metadata_value, dict) else {}
        record = RequestRecord(
            source_line=line,
            request_id=to_str(raw.get("id")),
            ts=to_ts(field(raw, "start"), "startTime", required=True),
            model=to_str(field(raw, "model")),
            endpoint=endpoint,
            user_id=to_str(field(raw, "user_id")),
            session_id=to_str(field(raw, "session_id")),
            template=to_str(field(raw, "prompt_name")),
            cost_reported_usd=_cost(raw),
        )
        record.metadata.update(flat_metadata(metadata))
        record.metadata["langfuse_trace_id"] = str(field(raw, "trace_id"))
        version = to_str(field(raw, "prompt_version"))
        if version is not None:
            record.metadata["langfuse_prompt_version"] = version
        record.feature = _feature(metadata, raw)
        provider = first(*(to_str(metadata.get(key)) for key in PROVIDER_KEYS))
        record.provider = provider.lower() if provider else None
        if (to_str(raw.get("level")) or "").upper() == "ERROR":
            record.status = "error"
            record.error_type = excerpt(to_str(field(raw, "status_message")) or "error", 80)
        _parameters(record, field(raw, "parameters"))
        _timing(record, raw, record.ts)
        record.messages = prompt_messages(decode_json_text(raw.get("input"), "input", text_ok=True))
        record.output_text = output_text(decode_json_text(raw.get("output"), "output", text_ok=True))
        apply_usage_details(record, _usage(raw))
        return record
