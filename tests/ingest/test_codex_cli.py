"""The Codex CLI reader on a real rollout and a trap file: one request per distinct token_count."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmaudit.ingest.codex_cli import CodexCliReader
from llmaudit.ingest.container import iter_records, sample
from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord, Skipped
from llmaudit.ingest.registry import detect
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records

HERE = ASSETS / "codex_cli"
REAL = HERE / "rollout-2026-02-23T13-19-38-019c8a70-dda7-7f33-98ea-f30553347322.jsonl"
TRAP_SESSION = "019c0000-aaaa-7bbb-8ccc-0000000000d1"


def parse_file(path: Path) -> dict[int, Parsed]:
    """Detect (asserting codex_cli) and parse the whole file in one pass: output by line."""
    source = SourceFile(path.name, path)
    reader, found = detect(source)
    assert reader.name == "codex_cli"
    out: dict[int, Parsed] = {}

    def records() -> Any:
        for line, record in iter_records(source, found.kind):
            if isinstance(record, Rejection):
                out[line] = record
            else:
                yield line, record

    for item in reader.parse(records()):
        line = item.source_line if isinstance(item, RequestRecord) else item.line
        assert line not in out, f"line {line} gave two outputs"
        out[line] = item
    return out


def test_real_rollout_one_request_per_distinct_token_count() -> None:
    out = parse_file(REAL)
    lines = REAL.read_text().splitlines()
    assert sorted(out) == list(range(1, len(lines) + 1))
    # By hand: every token_count with info and new totals is one call, priced from last_token_usage.
    expected, seen = [], None
    for text in lines:
        payload = json.loads(text)["payload"]
        if payload.get("type") == "token_count" and payload.get("info"):
            if payload["info"]["total_token_usage"] != seen:
                expected.append(payload["info"]["last_token_usage"])
            seen = payload["info"]["total_token_usage"]
    requests = [o for o in out.values() if isinstance(o, RequestRecord)]
    assert [(r.input_tokens, r.cache_read_tokens, r.output_tokens, r.reasoning_tokens) for r in requests] == [
        (u["input_tokens"], u["cached_input_tokens"], u["output_tokens"], u["reasoning_output_tokens"]) for u in expected
    ]
    (call,) = requests
    assert (call.input_tokens, call.cache_read_tokens, call.output_tokens, call.reasoning_tokens) == (34_469, 3_456, 431, 264)
    assert (call.model, call.provider, call.endpoint, call.feature) == ("gpt-5.3-codex", "openai", "responses", "codex-cli")
    assert (call.session_id, call.request_id) == (
        "019c8a70-dda7-7f33-98ea-f30553347322", "019c8a70-dda7-7f33-98ea-f30553347322:19",
    )
    assert call.ts == datetime(2026, 2, 23, 12, 19, 52, 689000, tzinfo=UTC)
    # Base instructions, then the 7 developer/user items before the call; the reply is the output.
    assert [m.role for m in call.messages] == ["system", "developer", "developer", "user", "user", "developer",
                                               "developer", "user", "user"]
    assert call.output_text is not None and call.output_text.startswith("[REDACTED_TEXT len=124")
    assert out[13] == Skipped(13, "token_count event without usage (rate limits only)")
    assert call.metadata == {"reasoning_effort": "high"}


@pytest.fixture(scope="module")
def traps() -> dict[int, Parsed]:
    return parse_file(HERE / "traps.jsonl")


def _request(out: dict[int, Parsed], line: int) -> RequestRecord:
    record = out[line]
    assert isinstance(record, RequestRecord), record
    return record


def test_trap_repeated_token_counts_are_skipped(traps: dict[int, Parsed]) -> None:
    assert traps[12] == Skipped(12, "repeated token_count event (same totals as line 9)")
    assert traps[16] == Skipped(16, "repeated token_count event (same totals as line 14)")
    assert traps[5] == Skipped(5, "token_count event without usage (rate limits only)")
    assert sorted(line for line, o in traps.items() if isinstance(o, RequestRecord)) == [9, 14, 19]
    assert len(traps) == 22


def test_trap_cached_input_is_inside_input_and_reasoning_inside_output(traps: dict[int, Parsed]) -> None:
    first = _request(traps, 9)
    assert (first.input_tokens, first.cache_read_tokens, first.output_tokens, first.reasoning_tokens) == (12_000, 0, 300, 180)
    assert first.messages == [
        Message("system", "You are Codex, a coding agent."),
        Message("developer", "<permissions>workspace-write</permissions>"),
        Message("user", "Add a --dry-run flag to cli.py"),
    ]
    assert first.output_text == "I'll inspect cli.py.\nexec_command({\"cmd\":\"cat cli.py\"})"
    second = _request(traps, 14)
    assert (second.input_tokens, second.cache_read_tokens, second.output_tokens, second.reasoning_tokens) == (
        13_100, 11_904, 220, 70,
    )
    assert [m.kind for m in second.messages[3:]] == ["thinking", "text", "tool_call", "tool_result"]
    assert (second.request_id, second.model, second.output_text) == (f"{TRAP_SESSION}:14", "gpt-5-codex", "Adding the flag now.")


def test_trap_totals_only_give_the_difference_and_model_switch(traps: dict[int, Parsed]) -> None:
    third = _request(traps, 19)
    # totals 40,100 / 24,960 / 700 / 300 minus the previous call's 25,100 / 11,904 / 520 / 250
    assert (third.input_tokens, third.cache_read_tokens, third.output_tokens, third.reasoning_tokens) == (
        15_000, 13_056, 180, 50,
    )
    assert (third.model, third.metadata["reasoning_effort"]) == ("gpt-5.1-codex", "high")
    assert third.messages[-1] == Message("user", "Also update the README")


def test_trap_bad_lines_are_rejected(traps: dict[int, Parsed]) -> None:
    assert isinstance(traps[15], Rejection) and "invalid JSON" in traps[15].reason
    assert traps[20] == Rejection(20, "cached_input_tokens 500 exceed input_tokens 100")
    assert traps[22] == Rejection(22, "not a Codex rollout line (expected timestamp, type and a payload object)")
    assert traps[21] == Skipped(21, "agent_message event (not an API call)")


def test_ingest_reconciles() -> None:
    ingestor = Ingestor(TableBuilder())
    for path in (REAL, HERE / "traps.jsonl"):
        ingestor.read_file(SourceFile(path.name, path))
    report = ingestor.finish()
    assert report.balanced
    assert (report.requests, report.rejected, report.duplicates) == (1 + 3, 3, 0)
    assert report.skipped_reasons["repeated token_count event"] == 2
    assert ingestor.builder.requests_frame()["output_tokens"].sum() == 431 + 300 + 220 + 180


def test_no_model_before_a_call_is_rejected_and_early_counts_on_the_event() -> None:
    event = {"type": "token_count", "input_tokens": 900, "cached_input_tokens": 0, "output_tokens": 12}
    lines = [
        (1, {"timestamp": "2025-08-01T00:00:00Z", "type": "event_msg", "payload": event}),
        (2, {"timestamp": "2025-08-01T00:00:00Z", "type": "event_msg", "payload": event}),
        (3, {"timestamp": "2025-08-01T00:00:00Z", "type": "session_meta", "payload": {"id": "s1", "model": "codex-mini-latest"}}),
        (4, {"timestamp": "2025-08-01T00:00:01Z", "type": "event_msg", "payload": {**event, "input_tokens": 950}}),
    ]
    out = list(CodexCliReader().parse(iter(lines)))
    assert out[0] == Rejection(1, "no model: no turn_context line before this token_count, cannot price")
    assert out[1] == Skipped(2, "repeated token_count event (same totals as line 1)")  # the rejected call, once
    assert isinstance(out[3], RequestRecord)
    assert (out[3].model, out[3].input_tokens, out[3].output_tokens, out[3].request_id) == ("codex-mini-latest", 950, 12, "s1:4")


def test_a_rejected_call_written_twice_is_rejected_once() -> None:
    """Codex writes each token_count twice: a call rejected for a bad field is one rejection and one repeat,
    and the next call's usage is still the growth of the running totals from it."""
    def count(timestamp: str, total: int, output: int) -> dict[str, Any]:
        usage = {"input_tokens": total, "cached_input_tokens": 0, "output_tokens": output}
        return {"timestamp": timestamp, "type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": usage}}}
    lines = [
        (1, {"timestamp": "2025-08-01T00:00:00Z", "type": "session_meta", "payload": {"id": "s1", "model": "gpt-5-codex"}}),
        (2, count("2025-08-01T00:00:01Z", 1000, 10)),
        (3, count("yesterday-ish", 3000, 30)),
        (4, count("yesterday-ish", 3000, 30)),
        (5, count("2025-08-01T00:00:03Z", 6000, 45)),
    ]
    out = list(CodexCliReader().parse(iter(lines)))
    assert isinstance(out[1], RequestRecord) and isinstance(out[2], Rejection) and "timestamp" in out[2].reason
    assert out[3] == Skipped(4, "repeated token_count event (same totals as line 3)")
    assert isinstance(out[4], RequestRecord) and (out[4].input_tokens, out[4].output_tokens) == (3000, 15)


def test_repeated_events_without_totals_are_skipped_by_their_own_usage() -> None:
    info = {"last_token_usage": {"input_tokens": 500, "cached_input_tokens": 0, "output_tokens": 7}}
    event = {"timestamp": "2025-08-01T00:00:01Z", "type": "event_msg", "payload": {"type": "token_count", "info": info}}
    lines = [
        (1, {"timestamp": "2025-08-01T00:00:00Z", "type": "turn_context", "payload": {"model": "gpt-5-codex"}}),
        (2, event),
        (3, event),
    ]
    out = list(CodexCliReader().parse(iter(lines)))
    assert isinstance(out[1], RequestRecord) and out[1].request_id is None  # no session_meta: id synthesised later
    assert out[2] == Skipped(3, "repeated token_count event (same totals as line 2)")


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "claude_code" / "short.jsonl",
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        SHARED_DATA / "litellm" / "spend_logs_payload.json",
        ASSETS / "openai_responses" / "responses.jsonl",
        ASSETS / "anthropic_messages" / "messages.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert CodexCliReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_records(asset_records(HERE / "traps.jsonl") + asset_records(REAL)), min_size=1, max_size=6))
def test_junk_in_any_field_never_raises_and_every_line_is_accounted(raws: list[dict]) -> None:
    out = list(CodexCliReader().parse(iter(enumerate(raws, start=1))))
    assert sorted(o.source_line if isinstance(o, RequestRecord) else o.line for o in out) == list(range(1, len(raws) + 1))
