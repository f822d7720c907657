"""Anthropic Message Batches files: request lines (custom_id + params) and result lines (custom_id + result).

Results do not repeat the request and carry no timestamp; they are joined to their request
on ``custom_id`` after reading (`join_key`), like the OpenAI batch reader. A results file
alone still gives usage and model. Only ``succeeded`` results are billed: ``errored``,
``canceled`` and ``expired`` ones become error requests with zero tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmaudit.ingest.anthropic_common import PROVIDER, apply_error, apply_message, apply_request
from llmaudit.ingest.coerce import SHAPE_ERRORS, BadValue, to_str, to_ts
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord
from llmaudit.redaction import excerpt

RESULT_TYPES = frozenset({"succeeded", "errored", "canceled", "expired"})


def is_batch_request(record: dict[str, Any]) -> bool:
    """A batch request line: custom_id and the Messages request ``params``."""
    return "custom_id" in record and isinstance(record.get("params"), dict)


def is_batch_result(record: dict[str, Any]) -> bool:
    """A batch result line: custom_id and a typed ``result``."""
    return "custom_id" in record and isinstance(record.get("result"), dict) and "type" in record["result"]


def _custom_id(raw: dict[str, Any]) -> str:
    custom_id = to_str(raw.get("custom_id"))
    if custom_id is None:
        raise BadValue("custom_id is empty: the line cannot be joined to its request or result")
    return custom_id


def request_half(line: int, raw: dict[str, Any]) -> RequestRecord:
    """A request line: the prompt half, waiting for its result."""
    custom_id = _custom_id(raw)
    record = RequestRecord(
        source_line=line, provider=PROVIDER, endpoint="messages", is_batch=True, stream=False,
        join_key=f"anthropic_batch:{custom_id}", is_partial=True,
    )
    apply_request(record, raw["params"])
    return record


def result_record(line: int, raw: dict[str, Any]) -> RequestRecord:
    """A result line: usage and output of a succeeded request, or a zero-token error."""
    custom_id = _custom_id(raw)
    result = raw["result"]
    kind = to_str(result.get("type")) or ""
    if kind not in RESULT_TYPES:
        raise BadValue(f"unknown result type {excerpt(kind, 40)!r} (expected one of {', '.join(sorted(RESULT_TYPES))})")
    record = RequestRecord(
        source_line=line, provider=PROVIDER, endpoint="messages", is_batch=True, stream=False,
        join_key=f"anthropic_batch:{custom_id}", ts=to_ts(raw.get("timestamp"), "timestamp"),
    )
    if kind == "succeeded":
        message = result.get("message")
        if not isinstance(message, dict):
            raise BadValue("succeeded result without a message object: cannot price")
        apply_message(record, message)
        record.is_batch = True
        return record
    # Failed results have no message id. The custom id tells two of one batch apart (the same line at another
    # place, an overlapping download, is a copy); batches reuse custom ids, so the id is local: another batch's
    # failure under the same custom id is a copy only with the same prompt. Results alone, two batches' failures
    # of one custom id alike cannot be told from one failure read twice, and count once.
    record.request_id, record.id_is_local = f"anthropic_batch:{custom_id}:{kind}", True
    apply_error(record, result.get("error"), fallback=kind)
    if kind != "errored":
        record.error_type = kind
    return record


class AnthropicBatchReader(Reader):
    name = "anthropic_batch"
    description = "Anthropic Message Batches request and/or results JSONL (joined on custom_id)"
    containers = ("jsonl", "json")
    fields = (
        "request_id", "model", "endpoint", "is_batch", "status", "error_type", "finish_reason", "user_id",
        "temperature", "max_tokens", "top_p", "service_tier", "inference_geo", "input_tokens",
        "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "metadata",
        "messages", "tools", "output_text",
    )
    independent_records = True
    joins_halves = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind not in self.containers or not sample.records:
            return 0
        hits = sum(1 for r in sample.records if is_batch_request(r) or is_batch_result(r))
        return share_confidence(hits, len(sample.records), 95)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                if is_batch_result(raw):
                    yield result_record(line, raw)
                elif is_batch_request(raw):
                    yield request_half(line, raw)
                else:
                    yield Rejection(line, "neither a batch request line (custom_id, params) nor a result line "
                                          "(custom_id, result)")
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")
