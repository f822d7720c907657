"""Claude Code session transcripts (``~/.claude/projects/*/*.jsonl``, subagents included).

Every line is a transcript event; only ``assistant`` lines are API calls, and one call is
written as several lines (one per content block) sharing ``message.id`` + ``requestId``.
Early lines under-report ``output_tokens``, so each call is buffered and emitted once with
the usage of its *last* line; its other lines become `Skipped` streaming duplicates.
System prompt and tools are not logged; the conversation so far (user turns, tool results
and earlier assistant blocks of the same session and agent, in file order) becomes the
call's messages, so token attribution can still see the history a call re-sends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmaudit.ingest.anthropic_common import PROVIDER, apply_usage, finish_reason
from llmaudit.ingest.coerce import SHAPE_ERRORS, BadValue, content_parts, to_str, to_ts
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import PARTIAL_CONFIDENCE, RawRecords, Reader, share_confidence
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord, Skipped

SYNTHETIC_MODEL = "<synthetic>"
"""Model of assistant lines Claude Code writes itself (interruptions, API error notices)."""
MAX_OPEN_CALLS = 64
"""Calls buffered at once; a call's lines are never this far apart, even with interleaved subagents."""
FEATURE = "claude-code"
SUBAGENT_FEATURE = "claude-code:subagent"
SKIP_REASONS = {
    "user": "user turn (not an API call)",
    "system": "system event (not an API call)",
    "summary": "session summary (not an API call)",
    "progress": "progress event (not an API call)",
    "file-history-snapshot": "file history snapshot (not an API call)",
    "queue-operation": "queue operation (not an API call)",
}
LINE_KEY_PREFIX = "line:"
"""Key of an assistant line with neither id: a call of its own, whose request id is synthesised later."""
MARKER_TYPES = {"summary": "leafUuid", "file-history-snapshot": "messageId", "queue-operation": "operation"}


def is_transcript_line(record: dict[str, Any]) -> bool:
    """A Claude Code transcript event: typed, with the session fields or a marker field of its type."""
    kind = record.get("type")
    if not isinstance(kind, str):
        return False
    if kind in MARKER_TYPES and MARKER_TYPES[kind] in record:
        return True
    return "sessionId" in record and ("uuid" in record or "message" in record)


def call_key(line: int, raw: dict[str, Any], message: dict[str, Any]) -> str:
    """The id shared by every line of one API call: message id and request id."""
    message_id, request_id = to_str(message.get("id")), to_str(raw.get("requestId"))
    if message_id and request_id:
        return f"{message_id}:{request_id}"
    return message_id or request_id or f"{LINE_KEY_PREFIX}{line}"


def stream_key(raw: dict[str, Any]) -> tuple[str, str]:
    """Which conversation a line belongs to: the session and, for subagents, the agent."""
    session = to_str(raw.get("sessionId")) or ""
    agent = to_str(raw.get("agentId")) or ("sidechain" if raw.get("isSidechain") is True else "main")
    return session, agent


@dataclass
class _Call:
    """One API call being assembled from its lines."""

    key: str
    ts: datetime | None
    history: list[Message]
    raw: dict[str, Any]
    lines: list[int] = field(default_factory=list)
    usage_record: RequestRecord | None = None
    """Tokens of the latest line (the last one is the complete count)."""
    output: list[Message] = field(default_factory=list)
    stop_reason: Any = None
    problem: tuple[int, str] | None = None
    """(line, reason) when the call's latest line could not be read: the call is then rejected once, on
    that line, and its other lines are skipped (an earlier line's usage is under-reported: never priced)."""


@dataclass
class _Transcript:
    """Parsing state of one file: open calls and the conversation so far per session/agent."""

    calls: OrderedDict[str, _Call] = field(default_factory=OrderedDict)
    histories: dict[tuple[str, str], list[Message]] = field(default_factory=dict)

    def feed(self, line: int, raw: dict[str, Any]) -> Iterator[Parsed]:
        """Outputs for one line (buffered calls come out when they are complete)."""
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise BadValue("not a Claude Code transcript line (no type)")
        if kind == "assistant":
            yield from self._assistant(line, raw)
            return
        if kind == "user":
            message = raw.get("message")
            self._remember(raw, content_parts("user", message.get("content")) if isinstance(message, dict) else [])
        elif kind == "system" and raw.get("subtype") == "compact_boundary":
            # After a compaction the model sees only the summary that follows, not the old history.
            self.histories[stream_key(raw)] = []
        yield Skipped(line, SKIP_REASONS.get(kind, f"{kind} line (not an API call)"))

    def _remember(self, raw: dict[str, Any], parts: list[Message]) -> None:
        key = stream_key(raw)
        history = self.histories.setdefault(key, [])
        # A user line with no parent starts a new conversation (a subagent's task in older files).
        if raw.get("type") == "user" and "parentUuid" in raw and raw["parentUuid"] is None and history:
            history = self.histories[key] = []
        history.extend(parts)

    def _assistant(self, line: int, raw: dict[str, Any]) -> Iterator[Parsed]:
        message = raw.get("message")
        if not isinstance(message, dict):
            raise BadValue("assistant line without a message object")
        model = to_str(message.get("model"))
        if model == SYNTHETIC_MODEL or raw.get("isApiErrorMessage") is True:
            yield Skipped(line, "synthetic assistant message (written by Claude Code, not an API call)")
            return
        key = call_key(line, raw, message)
        # Everything that can fail is parsed before the state changes: a bad line adds nothing to the call
        # but the mark that its latest line is unreadable.
        try:
            if not isinstance(message.get("usage"), dict):
                raise BadValue("missing usage: cannot price")
            tokens = RequestRecord(source_line=line)
            apply_usage(tokens, message["usage"])
            ts = to_ts(raw.get("timestamp"), "timestamp")
            parts = content_parts("assistant", message.get("content"))
        except BadValue as exc:
            problem: tuple[int, str] | None = (line, str(exc))
        except SHAPE_ERRORS as exc:
            problem = (line, f"unexpected record shape ({type(exc).__name__}: {exc})")
        else:
            problem = None
        call = self.calls.get(key)
        if call is None:
            call = _Call(key=key, ts=None, history=list(self.histories.get(stream_key(raw), [])), raw=raw)
            self.calls[key] = call
        else:
            self.calls.move_to_end(key)
        call.lines.append(line)
        call.problem = problem
        if problem is None:
            call.usage_record = tokens
            call.raw = raw
            call.output.extend(parts)
            call.stop_reason = message.get("stop_reason") or call.stop_reason
            call.ts = call.ts or ts
            self._remember(raw, parts)
        while len(self.calls) > MAX_OPEN_CALLS:
            yield from _emit(self.calls.popitem(last=False)[1])

    def finish(self) -> Iterator[Parsed]:
        """Emit every call still buffered at the end of the file."""
        while self.calls:
            yield from _emit(self.calls.popitem(last=False)[1])


def _emit(call: _Call) -> Iterator[Parsed]:
    """The call's record (on its last line, whose usage is complete) and its other lines as skipped; or, when
    its last line could not be read, one rejection for the call and its other lines skipped."""
    last = call.lines[-1]
    if call.problem is not None:
        bad, reason = call.problem
        yield Rejection(bad, reason)
        for line in call.lines[:-1]:
            yield Skipped(line, f"streaming duplicate of a rejected API call (message {call.key}: rejected on line {bad})")
        return
    record = call.usage_record
    assert record is not None  # the last line was read, so it set the usage
    message = call.raw.get("message") or {}
    record.source_line = last
    record.request_id = None if call.key.startswith(LINE_KEY_PREFIX) else call.key
    record.ts = call.ts
    record.provider = PROVIDER
    record.model = to_str(message.get("model"))
    record.endpoint = "messages"
    record.stream = True
    record.session_id = to_str(call.raw.get("sessionId"))
    record.feature = SUBAGENT_FEATURE if call.raw.get("isSidechain") is True else FEATURE
    record.messages = call.history
    texts = [m.text for m in call.output if m.kind != "thinking"]
    record.output_text = "\n".join(texts) if texts else None
    record.finish_reason = finish_reason(call.stop_reason)
    yield record
    for line in call.lines[:-1]:
        yield Skipped(line, f"streaming duplicate of an API call (message {call.key}: kept its last line {last})")


class ClaudeCodeReader(Reader):
    name = "claude_code"
    description = "Claude Code session transcripts (~/.claude/projects/*/*.jsonl), one request per API call"
    containers = ("jsonl",)
    fields = (
        "request_id", "ts", "model", "endpoint", "stream", "finish_reason", "feature", "session_id",
        "service_tier", "inference_geo", "input_tokens", "cache_read_tokens", "cache_write_tokens",
        "cache_write_1h_tokens", "output_tokens", "messages", "output_text",
    )

    def sniff(self, sample: Sample) -> int:
        if sample.kind != "jsonl" or not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_transcript_line(record))
        if hits == len(sample.records):
            # A resumed session can open with many summary lines, which carry no session id.
            return 95 if any("sessionId" in record for record in sample.records) else 70
        return share_confidence(hits, len(sample.records), PARTIAL_CONFIDENCE) if any("requestId" in r for r in sample.records) else 0

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        transcript = _Transcript()
        for line, raw in records:
            try:
                # Materialised so a failure midway yields nothing but the rejection.
                yield from list(transcript.feed(line, raw))
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")
        yield from transcript.finish()
