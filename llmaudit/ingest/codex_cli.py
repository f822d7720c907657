"""OpenAI Codex CLI / Codex Desktop rollout sessions (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``).

Lines are ``{timestamp, type, payload}``. ``session_meta`` names the session and its base
instructions, ``turn_context`` sets the model, ``response_item`` lines are the conversation
(prompt items and model output), and each API call ends with an ``event_msg`` of type
``token_count`` whose ``info.last_token_usage`` is that call's usage. Codex writes every
token_count twice (same running totals) and sometimes with ``info: null``: one call is one
*distinct* total. Token semantics are OpenAI's: ``input_tokens`` includes
``cached_input_tokens`` and ``output_tokens`` includes ``reasoning_output_tokens``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from llmaudit.ingest.coerce import (
    SHAPE_ERRORS,
    BadValue,
    canonical_json,
    content_parts,
    first,
    get_path,
    to_int,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader, share_confidence
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord, Skipped

LINE_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
DEFAULT_PROVIDER = "openai"
FEATURE = "codex-cli"
USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
# Items the model produces (the output of the call that follows them); everything else is prompt.
OUTPUT_ITEMS = frozenset({"reasoning", "function_call", "custom_tool_call", "local_shell_call", "web_search_call"})
TOOL_OUTPUT_ITEMS = frozenset({"function_call_output", "custom_tool_call_output"})
SKIP_REASONS = {
    "session_meta": "session header (not an API call)",
    "turn_context": "turn context (not an API call)",
    "response_item": "conversation item (not an API call)",
    "compacted": "history compaction (not an API call)",
}


def is_rollout_line(record: dict[str, Any]) -> bool:
    """A rollout line: a known type with its payload object."""
    return record.get("type") in LINE_TYPES and isinstance(record.get("payload"), dict) and "timestamp" in record


def item_message(item: dict[str, Any]) -> list[Message]:
    """One conversation item as message parts (tool calls and outputs as their own kinds)."""
    kind = item.get("type")
    if kind == "message":
        return content_parts(str(item.get("role") or "user").lower(), item.get("content"))
    if kind in ("function_call", "custom_tool_call"):
        arguments = first(item.get("arguments"), item.get("input"))
        text = arguments if isinstance(arguments, str) else canonical_json(arguments)
        return [Message(role="assistant", text=f"{item.get('name', '')}({text})", kind="tool_call")]
    if kind in TOOL_OUTPUT_ITEMS:
        output = item.get("output")
        text = output if isinstance(output, str) else canonical_json(output)
        return [Message(role="tool", text=text, kind="tool_result")]
    if kind == "reasoning":
        # Only the summary is readable; the encrypted reasoning is re-sent but cannot be counted here.
        summary = item.get("summary")
        summary = summary if isinstance(summary, list) else []
        texts = [str(part.get("text") or "") for part in summary if isinstance(part, dict)]
        return [Message(role="assistant", text="\n".join(texts), kind="thinking")]
    return [Message(role="assistant", text=canonical_json(item), kind="tool_call")]


def is_output_item(item: dict[str, Any]) -> bool:
    """True for items the model wrote (assistant messages, reasoning, tool calls)."""
    kind = item.get("type")
    return kind in OUTPUT_ITEMS or (kind == "message" and item.get("role") == "assistant")


def usage_tokens(usage: Any) -> dict[str, int]:
    """The four counts of a token usage object, validated (cached within input, reasoning within output)."""
    if not isinstance(usage, dict):
        raise BadValue("token_count without last_token_usage: cannot price")
    counts = {name: to_int(usage.get(name), name) or 0 for name in USAGE_FIELDS}
    if usage.get("input_tokens") is None:
        raise BadValue("missing input_tokens in token_count: cannot price")
    if counts["cached_input_tokens"] > counts["input_tokens"]:
        raise BadValue(f"cached_input_tokens {counts['cached_input_tokens']} exceed input_tokens {counts['input_tokens']}")
    if counts["reasoning_output_tokens"] > counts["output_tokens"]:
        raise BadValue(
            f"reasoning_output_tokens {counts['reasoning_output_tokens']} exceed output_tokens {counts['output_tokens']}"
        )
    return counts


@dataclass
class _Session:
    """Parsing state of one rollout file."""

    session_id: str | None = None
    provider: str = DEFAULT_PROVIDER
    model: str | None = None
    effort: str | None = None
    instructions: list[Message] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)
    pending: list[Message] = field(default_factory=list)
    """Model output since the last call's token_count: the output of the call being counted next."""
    last_totals: str | None = None
    last_totals_line: int = 0
    last_total_usage: dict[str, Any] | None = None

    def feed(self, line: int, raw: dict[str, Any]) -> Parsed:
        """The output for one line: a request for each distinct token_count, skipped otherwise."""
        kind = raw.get("type")
        payload = raw.get("payload")
        if not isinstance(kind, str) or not isinstance(payload, dict):
            raise BadValue("not a Codex rollout line (expected timestamp, type and a payload object)")
        if kind == "event_msg":
            if payload.get("type") == "token_count":
                return self._token_count(line, raw, payload)
            return Skipped(line, f"{payload.get('type')} event (not an API call)")
        if kind == "session_meta":
            self._meta(payload)
        elif kind == "turn_context":
            self.model = to_str(payload.get("model")) or self.model
            self.effort = to_str(first(payload.get("effort"), get_path(payload, "collaboration_mode", "settings",
                                                                        "reasoning_effort"))) or self.effort
        elif kind == "response_item":
            self._item(payload)
        elif kind == "compacted":
            # The model now sees the compaction summary instead of the old history.
            replacement = payload.get("replacement_history")
            items = replacement if isinstance(replacement, list) else []
            self.history = [m for item in items if isinstance(item, dict) for m in item_message(item)]
            if not self.history and isinstance(payload.get("message"), str):
                self.history = [Message(role="user", text=payload["message"])]
            self.pending = []
        return Skipped(line, SKIP_REASONS.get(kind, f"{kind} line (not an API call)"))

    def _meta(self, payload: dict[str, Any]) -> None:
        self.session_id = to_str(payload.get("id")) or self.session_id
        self.provider = to_str(payload.get("model_provider")) or self.provider
        self.model = to_str(payload.get("model")) or self.model
        instructions = first(get_path(payload, "base_instructions", "text"), payload.get("instructions"))
        if isinstance(instructions, str):
            self.instructions = [Message(role="system", text=instructions)]

    def _item(self, item: dict[str, Any]) -> None:
        parts = item_message(item)
        if is_output_item(item):
            self.pending.extend(parts)
            return
        # A prompt item after unclaimed output: that output is history now.
        self.history.extend(self.pending)
        self.pending = []
        self.history.extend(parts)

    def _token_count(self, line: int, raw: dict[str, Any], payload: dict[str, Any]) -> Parsed:
        info = payload.get("info")
        if info is None and payload.get("input_tokens") is not None:
            info = {"last_token_usage": payload}  # early Codex versions put the counts on the event itself
        if info is None:
            return Skipped(line, "token_count event without usage (rate limits only)")
        if not isinstance(info, dict):
            raise BadValue("token_count info is not an object")
        total = info.get("total_token_usage")
        # The running totals identify a call; without them, its own usage does (never equal for two calls
        # in practice, since every call re-sends a longer history).
        totals = canonical_json(total) if isinstance(total, dict) else "last:" + canonical_json(info.get("last_token_usage"))
        if totals == self.last_totals:
            return Skipped(line, f"repeated token_count event (same totals as line {self.last_totals_line})")
        # Seen, even if it is rejected: its repeat (Codex writes each event twice) is then a repeat, not a rejection.
        self.last_totals, self.last_totals_line = totals, line
        try:
            return self._record(line, raw, usage_tokens(self._last_usage(info, total)))
        finally:
            self.last_total_usage = total if isinstance(total, dict) else None
            self.history.extend(self.pending)
            self.pending = []

    def _last_usage(self, info: dict[str, Any], total: Any) -> Any:
        """This call's usage: ``last_token_usage``, else the growth of the running totals."""
        last = info.get("last_token_usage")
        if last is not None or not isinstance(total, dict):
            return last
        previous = self.last_total_usage or {}
        return {name: (to_int(total.get(name), name) or 0) - (to_int(previous.get(name), name) or 0)
                for name in USAGE_FIELDS if total.get(name) is not None}

    def _record(self, line: int, raw: dict[str, Any], counts: dict[str, int]) -> RequestRecord:
        if self.model is None:
            raise BadValue("no model: no turn_context line before this token_count, cannot price")
        texts = [m.text for m in self.pending if m.kind != "thinking"]
        record = RequestRecord(
            source_line=line, request_id=f"{self.session_id}:{line}" if self.session_id else None,
            ts=to_ts(raw.get("timestamp"), "timestamp"), provider=self.provider, model=self.model,
            endpoint="responses", stream=True, session_id=self.session_id, feature=FEATURE,
            input_tokens=counts["input_tokens"], cache_read_tokens=counts["cached_input_tokens"],
            output_tokens=counts["output_tokens"], reasoning_tokens=counts["reasoning_output_tokens"],
            messages=[*self.instructions, *self.history], output_text="\n".join(texts) if texts else None,
        )
        if self.effort:
            record.metadata["reasoning_effort"] = self.effort
        return record


class CodexCliReader(Reader):
    name = "codex_cli"
    description = "OpenAI Codex CLI / Desktop rollout sessions (~/.codex/sessions/**/rollout-*.jsonl)"
    containers = ("jsonl",)
    fields = (
        "request_id", "ts", "model", "endpoint", "stream", "feature", "session_id", "input_tokens",
        "cache_read_tokens", "output_tokens", "reasoning_tokens", "metadata", "messages", "output_text",
    )

    def sniff(self, sample: Sample) -> int:
        if sample.kind != "jsonl" or not sample.records:
            return 0
        hits = sum(1 for record in sample.records if is_rollout_line(record))
        return share_confidence(hits, len(sample.records), 95)

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        session = _Session()
        for line, raw in records:
            try:
                yield session.feed(line, raw)
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")
