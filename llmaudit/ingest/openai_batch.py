"""OpenAI Batch API files: input lines (custom_id + body) and output lines (custom_id + response).

Output lines do not repeat the request, and their order differs from the input's: the two
halves are joined on ``custom_id`` after reading (`join_key`). An output file alone still
gives usage, model and cost; an input line with no output is rejected at the join.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmaudit.ingest.coerce import SHAPE_ERRORS, BadValue, get_path, to_int, to_str
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.openai_common import apply_chat_request, apply_chat_response
from llmaudit.ingest.records import Parsed, Rejection, RequestRecord

ENDPOINTS = {
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
    "/v1/embeddings": "embeddings",
    "/v1/completions": "completions",
}


def is_batch_input(record: dict) -> bool:
    """A batch input line: custom_id, url and a request body."""
    return "custom_id" in record and "body" in record and "url" in record


def is_batch_output(record: dict) -> bool:
    """A batch output line: custom_id and a response (possibly null) or error."""
    return "custom_id" in record and "response" in record and "error" in record


class OpenAIBatchReader(Reader):
    name = "openai_batch"
    description = "OpenAI Batch API input and/or output JSONL (joined on custom_id)"
    containers = ("jsonl",)
    fields = (
        "request_id", "ts", "model", "endpoint", "is_batch", "status", "error_type", "finish_reason",
        "temperature", "max_tokens", "seed", "user_id", "service_tier", "input_tokens", "cache_read_tokens",
        "output_tokens", "reasoning_tokens", "audio_input_tokens", "audio_output_tokens", "messages", "tools",
        "output_text",
    )
    independent_records = True
    joins_halves = True

    def sniff(self, sample: Sample) -> int:
        if sample.kind != "jsonl" or not sample.records:
            return 0
        hits = sum(1 for r in sample.records if is_batch_input(r) or is_batch_output(r))
        return share_confidence(hits, len(sample.records), 95)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                if is_batch_input(raw):
                    yield self._input(line, raw)
                elif is_batch_output(raw):
                    yield self._output(line, raw)
                else:
                    yield Rejection(line, "neither a batch input line (custom_id, url, body) nor an output line (custom_id, response, error)")
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")

    @staticmethod
    def _input(line: int, raw: dict) -> RequestRecord:
        custom_id = to_str(raw.get("custom_id"))
        if custom_id is None:
            raise BadValue("custom_id is empty")
        url = str(raw.get("url") or "")
        record = RequestRecord(
            source_line=line, provider="openai", endpoint=ENDPOINTS.get(url, url.rsplit("/", 1)[-1] or None),
            is_batch=True, stream=False, join_key=f"openai_batch:{custom_id}", is_partial=True,
        )
        apply_chat_request(record, raw.get("body"))
        return record

    @staticmethod
    def _output(line: int, raw: dict) -> RequestRecord:
        custom_id = to_str(raw.get("custom_id"))
        if custom_id is None:
            raise BadValue("custom_id is empty")
        record = RequestRecord(
            source_line=line, request_id=to_str(raw.get("id")), provider="openai", endpoint="chat",
            is_batch=True, stream=False, join_key=f"openai_batch:{custom_id}",
        )
        response = raw.get("response")
        error = raw.get("error")
        status_code = to_int(get_path(response, "status_code"), "status_code") if isinstance(response, dict) else None
        body = get_path(response, "body")
        if isinstance(response, dict) and status_code == 200 and isinstance(body, dict):
            apply_chat_response(record, body)
            return record
        record.status = "error"
        err = error if isinstance(error, dict) else get_path(body, "error")
        record.error_type = to_str(get_path(err, "code")) or to_str(get_path(err, "type")) or (
            f"http_{status_code}" if status_code else "error"
        )
        record.input_tokens = 0
        record.output_tokens = 0
        if isinstance(body, dict) and isinstance(body.get("usage"), dict):
            apply_chat_response(record, body)
            record.status = "error"
        return record
