"""LiteLLM proxy logs: ``LiteLLM_SpendLogs`` rows and ``StandardLoggingPayload`` callback objects.

Spend-log rows come from the proxy database (JSON/JSONL dumps or a CSV export of the
table); their ``metadata``, ``request_tags``, ``messages``, ``response`` and
``proxy_server_request`` columns are JSON *strings*. The standard logging payload is what
callbacks (S3, GCS, Pub/Sub, generic loggers) receive, with real objects.

Token semantics: LiteLLM converts every provider to OpenAI's, so ``prompt_tokens`` is the
whole input and the Anthropic-style ``cache_read_input_tokens`` /
``cache_creation_input_tokens`` in ``metadata.usage_object`` are parts of it. Older
versions logged Anthropic calls the Anthropic way (cache outside ``prompt_tokens``); a row
whose cache fields add up to more than ``prompt_tokens`` can only be one of those, and is
normalised by adding them. An older row whose cache fields happen to be smaller cannot be
told apart and is read as OpenAI-style.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from llmaudit.ingest.coerce import (
    BadValue,
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
from llmaudit.ingest.gateway_common import apply_chat_output, decode_json_text, is_chat_completion, ms_between
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.openai_common import PROXY_OUTPUT_PARAMS, apply_chat_request, chat_messages
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord
from llmaudit.redaction import excerpt

SPEND_LOG_KEYS = frozenset({"request_id", "spend", "call_type", "startTime"})
PAYLOAD_KEYS = frozenset({"id", "response_cost", "call_type", "startTime"})
SPEND_LOG_HINTS = frozenset({"api_key", "cache_key", "request_tags", "model_group", "custom_llm_provider", "end_user"})
PAYLOAD_HINTS = frozenset({"model_parameters", "hidden_params", "stream", "cache_hit", "model_map_information"})

CALL_TYPE_ENDPOINTS = {
    "completion": "chat",
    "text_completion": "completions",
    "embedding": "embeddings",
    "responses": "responses",
    "anthropic_messages": "messages",
    "image_generation": "images",
    "transcription": "transcriptions",
    "speech": "speech",
    "rerank": "rerank",
    "moderation": "moderations",
}
"""LiteLLM call types (async variants carry an ``a`` prefix) and the endpoint each one is."""

IDENTITY_METADATA = {
    "user_api_key_alias": "litellm_key_alias",
    "user_api_key_team_alias": "litellm_team_alias",
    "user_api_key_org_id": "litellm_org_id",
    "user_api_key_user_id": "litellm_user_id",
    "user_api_key_user_email": "litellm_user_email",
}
"""Who-sent-it metadata kept for attribution (the rest of LiteLLM's metadata is internal)."""

MISSING_TOKENS = "missing token counts: cannot price"
FAILURE_STATUSES = frozenset({"failure", "error", "failed"})


def endpoint_for(call_type: str | None) -> str | None:
    """The endpoint a LiteLLM ``call_type`` stands for (``acompletion`` -> ``chat``)."""
    if call_type is None:
        return None
    name = call_type.lower()
    if name in CALL_TYPE_ENDPOINTS:
        return CALL_TYPE_ENDPOINTS[name]
    if name.startswith("a") and name[1:] in CALL_TYPE_ENDPOINTS:
        return CALL_TYPE_ENDPOINTS[name[1:]]
    return name


def apply_litellm_usage(record: RequestRecord, prompt: Any, completion: Any, usage_object: Any) -> None:
    """Canonical token counts from LiteLLM's columns and its ``usage_object`` detail.

    Cache reads appear both as ``cache_read_input_tokens`` and as
    ``prompt_tokens_details.cached_tokens`` (the same tokens, OpenAI's name), so the larger
    is taken, never the sum.
    """
    usage = _object(usage_object)
    prompt_tokens = to_int(first(prompt, usage.get("prompt_tokens")), "prompt_tokens")
    if prompt_tokens is None:
        raise BadValue(MISSING_TOKENS)
    completion_tokens = to_int(first(completion, usage.get("completion_tokens")), "completion_tokens")
    if completion_tokens is None:
        if record.status != "error":  # a failure may log what it read and no output
            raise BadValue("missing completion_tokens: cannot price the output")
        completion_tokens = 0
    details = _object(usage.get("prompt_tokens_details"))
    read = max(
        to_int(usage.get("cache_read_input_tokens"), "cache_read_input_tokens") or 0,
        to_int(details.get("cached_tokens"), "cached_tokens") or 0,
    )
    written = max(
        to_int(usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens") or 0,
        to_int(details.get("cache_creation_tokens"), "cache_creation_tokens") or 0,
    )
    written_1h = to_int(
        first(
            get_path(usage, "cache_creation", "ephemeral_1h_input_tokens"),
            get_path(details, "cache_creation_token_details", "ephemeral_1h_input_tokens"),
        ),
        "ephemeral_1h_input_tokens",
    ) or 0
    reasoning = to_int(get_path(usage, "completion_tokens_details", "reasoning_tokens"), "reasoning_tokens") or 0
    # OpenAI semantics: cache tokens are inside prompt_tokens. More cache than prompt means an
    # old Anthropic-style row, where prompt_tokens counted only the uncached remainder.
    record.input_tokens = prompt_tokens + read + written if read + written > prompt_tokens else prompt_tokens
    record.cache_read_tokens = read
    record.cache_write_tokens = written
    record.cache_write_1h_tokens = min(written_1h, written)
    # Reasoning is inside completion_tokens; a larger figure can only have been logged beside it.
    record.output_tokens = completion_tokens + reasoning if reasoning > completion_tokens else completion_tokens
    record.reasoning_tokens = reasoning


def _object(value: Any) -> dict[str, Any]:
    """An object field, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _decoded_dict(value: Any, field: str) -> dict[str, Any]:
    """A JSON-string (or object) column that must be an object; empty when absent."""
    decoded = decode_json_text(value, field)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        raise BadValue(f"{field} is a {type(decoded).__name__}, expected a JSON object")
    return decoded


def _metadata_tags(record: RequestRecord, metadata: dict[str, Any], tags: Any) -> None:
    """Request tags, custom spend-log metadata and key identity into flat metadata."""
    if isinstance(tags, list):
        record.metadata.update(flat_metadata(tags))
    for key in ("spend_logs_metadata", "requester_metadata"):
        if isinstance(metadata.get(key), dict):
            record.metadata.update(flat_metadata(metadata[key]))
    for key, name in IDENTITY_METADATA.items():
        value = to_str(metadata.get(key))
        if value is not None:
            record.metadata[name] = value


def _status(record: RequestRecord, status: Any, error_info: Any, error_str: Any) -> None:
    """LiteLLM's success/failure status, with the error class when it failed."""
    text = (to_str(status) or "success").lower()
    if text not in FAILURE_STATUSES:
        return
    record.status = "error"
    record.error_type = (
        to_str(get_path(error_info, "error_class"))
        or to_str(get_path(error_info, "error_code"))
        or excerpt(to_str(error_str) or "error", 80)
    )


def _cache_hit(record: RequestRecord, value: Any) -> None:
    """A LiteLLM cache hit was answered by the proxy, not the provider: tag it, never an error."""
    if to_bool(value):
        record.metadata["litellm_cache_hit"] = "true"
        record.served_from_cache = True
        record.status = "ok"
        record.error_type = None


def _timing(record: RequestRecord, raw: dict[str, Any], start: datetime | None, duration: Any) -> None:
    """Latency (logged duration, else end - start) and time to first token."""
    end = to_ts(raw.get("endTime"), "endTime")
    first_token = to_ts(raw.get("completionStartTime"), "completionStartTime")
    record.latency_ms = to_float(duration, "request_duration_ms") if duration not in (None, "") else ms_between(start, end)
    # Non-streamed calls log completionStartTime = endTime: that is not a first-token time.
    if first_token is not None and (record.stream or (end is not None and first_token < end)):
        record.ttft_ms = ms_between(start, first_token)


def _provider_model(record: RequestRecord, raw: dict[str, Any], fallback_model: Any = None) -> None:
    """Model as logged (maybe ``provider/model``) and provider from ``custom_llm_provider``."""
    record.model = first(to_str(raw.get("model")), to_str(raw.get("model_group")), to_str(fallback_model))
    provider = to_str(raw.get("custom_llm_provider"))
    if provider is None and record.model and "/" in record.model:
        provider = record.model.split("/", 1)[0]
    record.provider = provider.lower() if provider else None
    group = to_str(raw.get("model_group"))
    if group is not None:
        record.metadata["litellm_model_group"] = group


def _prompt(record: RequestRecord, messages: Any, request_body: Any) -> None:
    """The prompt: the stored proxy request when it has messages, else the ``messages`` column."""
    if isinstance(request_body, dict) and isinstance(request_body.get("messages"), list):
        apply_chat_request(record, request_body)
        return
    if isinstance(messages, dict):
        messages = messages.get("messages")
    if isinstance(messages, str):
        record.messages = [Message(role="user", text=messages)]
    elif isinstance(messages, list):
        record.messages = chat_messages(messages)


def _response(record: RequestRecord, response: Any) -> None:
    """Output text and finish reason from a stored chat response (usage comes from the columns)."""
    if is_chat_completion(response):
        apply_chat_output(record, response)


def _is_spend_log(raw: dict[str, Any]) -> bool:
    return SPEND_LOG_KEYS <= raw.keys() and bool(SPEND_LOG_HINTS & raw.keys())


def _is_payload(raw: dict[str, Any]) -> bool:
    return PAYLOAD_KEYS <= raw.keys() and "spend" not in raw and bool(PAYLOAD_HINTS & raw.keys())


def _sniff(sample: Sample, keys: frozenset[str], hints: frozenset[str], matches: Any) -> int:
    if sample.kind == "csv":
        columns = set(sample.columns)
        return 95 if keys <= columns and hints & columns else 0
    if not sample.records:
        return 0
    hits = sum(1 for record in sample.records if matches(record))
    return share_confidence(hits, len(sample.records), 95)


def _parse_each(
    records: RawRecords, matches: Any, build: Any, what: str, keys: frozenset[str]
) -> Iterator[Parsed]:
    """One output per record; bad content becomes a rejection with its reason."""
    for line, raw in records:
        try:
            if not matches(raw):
                yield Rejection(line, f"not a {what}: expected fields {', '.join(sorted(keys))}")
                continue
            yield build(line, raw)
        except BadValue as exc:
            yield Rejection(line, str(exc))
        except (KeyError, TypeError, AttributeError, ValueError, OverflowError, RecursionError) as exc:
            yield Rejection(line, excerpt(f"unexpected {what} shape: {type(exc).__name__}: {exc}", 200))


class LiteLLMSpendLogsReader(Reader):
    name = "litellm_spendlogs"
    description = "LiteLLM proxy LiteLLM_SpendLogs rows (JSON/JSONL dump or CSV export of the table)"
    containers = ("jsonl", "json", "csv")
    fields = (
        "request_id", "ts", "provider", "model", "endpoint", "status", "error_type", "finish_reason", "latency_ms",
        "ttft_ms", "user_id", "team", "api_key", "session_id", "temperature", "max_tokens", "input_tokens",
        "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_reported_usd",
        "metadata", "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        return _sniff(sample, SPEND_LOG_KEYS, SPEND_LOG_HINTS, _is_spend_log)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        yield from _parse_each(records, _is_spend_log, self._row, "LiteLLM spend-log row", SPEND_LOG_KEYS)

    @staticmethod
    def _row(line: int, raw: dict[str, Any]) -> RequestRecord:
        """One spend-log row; its JSON-string columns are decoded first."""
        metadata = _decoded_dict(raw.get("metadata"), "metadata")
        tags = decode_json_text(raw.get("request_tags"), "request_tags")
        call_type = to_str(raw.get("call_type"))
        record = RequestRecord(
            source_line=line,
            request_id=to_str(raw.get("request_id")),
            endpoint=endpoint_for(call_type),
            user_id=first(to_str(raw.get("end_user")), to_str(raw.get("user")),
                          to_str(metadata.get("user_api_key_end_user_id"))),
            team=first(to_str(raw.get("team_id")), to_str(metadata.get("user_api_key_team_id"))),
            api_key=first(to_str(raw.get("api_key")), to_str(metadata.get("user_api_key")),
                          to_str(metadata.get("user_api_key_alias"))),
            session_id=to_str(raw.get("session_id")),
            cost_reported_usd=to_cost(raw.get("spend"), "spend"),
        )
        record.ts = to_ts(raw.get("startTime"), "startTime")
        _provider_model(record, raw)
        _metadata_tags(record, metadata, tags)
        _prompt(
            record,
            decode_json_text(raw.get("messages"), "messages", text_ok=True),
            decode_json_text(raw.get("proxy_server_request"), "proxy_server_request", text_ok=True),
        )
        _response(record, decode_json_text(raw.get("response"), "response", text_ok=True))
        _timing(record, raw, record.ts, raw.get("request_duration_ms"))
        _status(record, raw.get("status"), metadata.get("error_information"), None)
        _cache_hit(record, raw.get("cache_hit"))
        apply_litellm_usage(record, raw.get("prompt_tokens"), raw.get("completion_tokens"), metadata.get("usage_object"))
        return record


class LiteLLMPayloadReader(Reader):
    name = "litellm_payload"
    description = "LiteLLM StandardLoggingPayload objects (callback logs: S3, GCS, Pub/Sub, generic API)"
    containers = ("jsonl", "json")
    fields = (
        "request_id", "ts", "provider", "model", "endpoint", "stream", "status", "error_type", "finish_reason",
        "latency_ms", "ttft_ms", "user_id", "team", "api_key", "session_id", "temperature", "max_tokens", "top_p",
        "seed", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
        "cost_reported_usd", "metadata", "messages", "tools", "output_text",
    )
    independent_records = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind == "csv":
            return 0
        return _sniff(sample, PAYLOAD_KEYS, PAYLOAD_HINTS, _is_payload)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        yield from _parse_each(records, _is_payload, self._payload, "LiteLLM standard logging payload", PAYLOAD_KEYS)

    @staticmethod
    def _payload(line: int, raw: dict[str, Any]) -> RequestRecord:
        """One StandardLoggingPayload object."""
        metadata = _object(raw.get("metadata"))
        params = _object(raw.get("model_parameters"))
        record = RequestRecord(
            source_line=line,
            request_id=to_str(raw.get("id")),
            endpoint=endpoint_for(to_str(raw.get("call_type"))),
            stream=to_bool(first(raw.get("stream"), params.get("stream"))),
            user_id=first(to_str(raw.get("end_user")), to_str(metadata.get("user_api_key_end_user_id"))),
            team=to_str(metadata.get("user_api_key_team_id")),
            api_key=first(to_str(metadata.get("user_api_key_hash")), to_str(metadata.get("user_api_key_alias"))),
            session_id=first(to_str(raw.get("session_id")), to_str(raw.get("trace_id"))),
            cost_reported_usd=to_cost(raw.get("response_cost"), "response_cost"),
            temperature=to_float(params.get("temperature"), "temperature"),
            top_p=to_float(params.get("top_p"), "top_p"),
            max_tokens=to_parameter(first(params.get("max_completion_tokens"), params.get("max_tokens"))),
            seed=to_parameter(params.get("seed")),
            output_params=output_params(params, PROXY_OUTPUT_PARAMS),
        )
        record.ts = to_ts(raw.get("startTime"), "startTime")
        _provider_model(record, raw, get_path(raw, "hidden_params", "litellm_model_name"))
        _metadata_tags(record, metadata, raw.get("request_tags"))
        _prompt(record, raw.get("messages"), None)
        _response(record, raw.get("response"))
        response_time = to_float(raw.get("response_time"), "response_time")
        _timing(record, raw, record.ts, None)
        if record.latency_ms is None and response_time is not None:
            record.latency_ms = round(response_time * 1000, 3)
        _status(record, raw.get("status"), raw.get("error_information"), raw.get("error_str"))
        _cache_hit(record, raw.get("cache_hit"))
        usage_object = first(metadata.get("usage_object"), get_path(raw, "response", "usage"))
        apply_litellm_usage(record, raw.get("prompt_tokens"), raw.get("completion_tokens"), usage_object)
        return record
