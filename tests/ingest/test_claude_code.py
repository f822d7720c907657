"""The Claude Code reader on real transcripts and a trap file: one request per API call, last line kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmaudit.ingest.claude_code import ClaudeCodeReader
from llmaudit.ingest.container import iter_records, sample
from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord, Skipped
from llmaudit.ingest.registry import detect
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder
from tests.conftest import ASSETS, SHARED_DATA
from tests.ingest.reader_harness import asset_records, mutated_records

HERE = ASSETS / "claude_code"
REAL = ("short.jsonl", "tool_heavy.jsonl")


def parse_file(path: Path) -> list[Parsed]:
    """Detect (asserting claude_code) and parse the whole file in one pass, container rejections included."""
    source = SourceFile(path.name, path)
    reader, found = detect(source)
    assert reader.name == "claude_code"
    rejected: list[Parsed] = []

    def records() -> Any:
        for line, record in iter_records(source, found.kind):
            if isinstance(record, Rejection):
                rejected.append(record)
            else:
                yield line, record

    return [*reader.parse(records()), *rejected]


def expected_calls(path: Path) -> dict[str, dict[str, Any]]:
    """By hand from the file: the last line's usage of every (message.id, requestId) group."""
    calls: dict[str, dict[str, Any]] = {}
    for text in path.read_text().splitlines():
        line = json.loads(text)
        message = line.get("message") or {}
        if line.get("type") == "assistant" and message.get("model") != "<synthetic>":
            calls[f"{message['id']}:{line['requestId']}"] = message["usage"]
    return calls


def by_kind(out: list[Parsed]) -> tuple[list[RequestRecord], list[Skipped], list[Rejection]]:
    return (
        [o for o in out if isinstance(o, RequestRecord)],
        [o for o in out if isinstance(o, Skipped)],
        [o for o in out if isinstance(o, Rejection)],
    )


@pytest.mark.parametrize("name", REAL)
def test_real_transcript_gives_one_request_per_call_with_the_last_lines_usage(name: str) -> None:
    path = HERE / name
    requests, skipped, rejected = by_kind(parse_file(path))
    calls = expected_calls(path)
    assert rejected == []
    assert len(requests) + len(skipped) == len(path.read_text().splitlines())  # every line accounted for
    assert {r.request_id for r in requests} == set(calls)
    for record in requests:
        usage = calls[record.request_id or ""]
        written = usage["cache_creation_input_tokens"]
        assert record.output_tokens == usage["output_tokens"]
        assert record.input_tokens == usage["input_tokens"] + usage["cache_read_input_tokens"] + written
        assert (record.cache_read_tokens, record.cache_write_tokens) == (usage["cache_read_input_tokens"], written)
        assert record.cache_write_1h_tokens == usage["cache_creation"]["ephemeral_1h_input_tokens"]
        assert (record.provider, record.endpoint, record.feature, record.model) == (
            "anthropic", "messages", "claude-code", "claude-opus-4-6",
        )
    assert sum(r.output_tokens or 0 for r in requests) == sum(u["output_tokens"] for u in calls.values())


def test_tool_heavy_totals_and_the_late_parallel_tool_line() -> None:
    requests, skipped, _ = by_kind(parse_file(HERE / "tool_heavy.jsonl"))
    # Four calls; msg_019BN3 has a second tool_use line after its first tool result, with output 25 -> 173.
    assert sorted(r.output_tokens or 0 for r in requests) == [1, 11, 27, 173]
    late = next(r for r in requests if (r.request_id or "").startswith("msg_019BN3"))
    assert (late.source_line, late.output_tokens) == (37, 173)
    assert Skipped(34, late_reason(late)) in skipped
    first = min(requests, key=lambda r: r.source_line)
    assert first.messages[0].role == "user" and first.session_id == "d6e0bada-1959-4eec-a9d2-0bfade768d8f"
    # History grows: each call sees the conversation before it (file order), never its own output.
    sizes = [len(r.messages) for r in sorted(requests, key=lambda r: r.source_line)]
    assert sizes == sorted(sizes) and sizes[0] == 1


def late_reason(record: RequestRecord) -> str:
    return f"streaming duplicate of an API call (message {record.request_id}: kept its last line {record.source_line})"


@pytest.fixture(scope="module")
def traps() -> list[Parsed]:
    return parse_file(HERE / "traps.jsonl")


def test_trap_duplicate_lines_keep_the_last_output_count(traps: list[Parsed]) -> None:
    requests, skipped, _ = by_kind(traps)
    call_a = next(r for r in requests if r.request_id == "msg_A:req_A")
    # Lines 3 and 4 report output 3; line 6 has the final 412. Cache: 10,000 read + 5,000 written at 1 h.
    assert (call_a.source_line, call_a.output_tokens) == (6, 412)
    assert (call_a.input_tokens, call_a.cache_read_tokens, call_a.cache_write_tokens, call_a.cache_write_1h_tokens) == (
        4 + 10_000 + 5_000, 10_000, 5_000, 5_000,
    )
    assert call_a.messages == [Message("user", "Fix the refund rounding bug in billing.py")]
    assert call_a.output_text == 'I\'ll read billing.py.\nRead({"file_path":"billing.py"})'
    assert (call_a.finish_reason, call_a.stream, call_a.ts.isoformat() if call_a.ts else None) == (
        "tool_calls", True, "2026-02-10T09:00:02+00:00",
    )
    assert {s.line for s in skipped if s.reason.startswith("streaming duplicate")} == {3, 4, 10}


def test_trap_subagent_call_and_call_across_a_cut_line(traps: list[Parsed]) -> None:
    requests, _, rejected = by_kind(traps)
    side = next(r for r in requests if r.request_id == "msg_S:req_S")
    assert (side.feature, side.output_tokens, side.input_tokens) == ("claude-code:subagent", 50, 2_003)
    assert side.messages == [Message("user", "Find rounding helpers")]  # its own conversation, not the main one
    call_c = next(r for r in requests if r.request_id == "msg_C:req_C")
    assert (call_c.source_line, call_c.output_tokens, call_c.input_tokens) == (12, 88, 6 + 15_000 + 300)
    assert [m.kind for m in call_c.messages] == ["text", "thinking", "text", "tool_call", "tool_result"]
    assert any(r.line == 11 and "invalid JSON" in r.reason for r in rejected)


def test_trap_synthetic_missing_usage_compaction_and_bad_lines(traps: list[Parsed]) -> None:
    requests, skipped, rejected = by_kind(traps)
    assert Skipped(13, "synthetic assistant message (written by Claude Code, not an API call)") in skipped
    assert Rejection(14, "missing usage: cannot price") in rejected
    assert Rejection(17, "usage.output_tokens is negative: -1") in rejected
    assert Rejection(19, "not a Claude Code transcript line (no type)") in rejected
    after = next(r for r in requests if r.request_id == "msg_F:req_F")
    assert after.messages == [Message("user", "Summary: refund rounding switched to Decimal.")]  # history reset
    assert Skipped(1, "session summary (not an API call)") in skipped
    assert len(requests) == 4 and len(rejected) == 4
    assert len(requests) + len(skipped) + len(rejected) == 19


def test_ingest_reconciles_and_streaming_duplicates_are_skipped_not_read() -> None:
    ingestor = Ingestor(TableBuilder())
    for name in (*REAL, "traps.jsonl"):
        ingestor.read_file(SourceFile(name, HERE / name))
    report = ingestor.finish()
    assert report.balanced
    assert (report.requests, report.rejected) == (1 + 4 + 4, 4)
    assert report.skipped_reasons["streaming duplicate of an API call"] == 4 + (1 + 3 + 1) + 3
    frame = ingestor.builder.requests_frame()
    assert frame["output_tokens"].sum() == 13 + (1 + 11 + 27 + 173) + (412 + 50 + 88 + 9)


def test_the_same_session_given_twice_is_deduplicated(tmp_path: Path) -> None:
    ingestor = Ingestor(TableBuilder())
    ingestor.read_file(SourceFile("a.jsonl", HERE / "short.jsonl"))
    ingestor.read_file(SourceFile("b.jsonl", HERE / "short.jsonl"))
    report = ingestor.finish()
    assert (report.requests, report.duplicates) == (1, 1)


def test_calls_far_apart_are_flushed_without_losing_lines() -> None:
    lines = []
    for index in range(200):
        usage = {"input_tokens": 1, "output_tokens": index}
        lines.append((index + 1, {"type": "assistant", "sessionId": "s", "requestId": f"r{index}",
                                  "message": {"id": f"m{index}", "model": "claude-haiku-4-5", "usage": usage}}))
    out = list(ClaudeCodeReader().parse(iter(lines)))
    assert len(out) == 200 and all(isinstance(o, RequestRecord) for o in out)


@pytest.mark.parametrize(
    "path",
    [
        SHARED_DATA / "codex_cli" / "rollout-2026-02-23T13-19-38-019c8a70-dda7-7f33-98ea-f30553347322.jsonl",
        SHARED_DATA / "openai_batch" / "batch-output-expansion.jsonl",
        ASSETS / "anthropic_messages" / "messages.jsonl",
        ASSETS / "openai_chat" / "chat_logs.jsonl",
        ASSETS / "bedrock" / "invocations.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_formats(path: Path) -> None:
    assert ClaudeCodeReader().sniff(sample(SourceFile(name=path.name, path=path))) == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_records(asset_records(HERE / "traps.jsonl") + asset_records(HERE / "short.jsonl")),
                min_size=1, max_size=6))
def test_junk_in_any_field_never_raises_and_every_line_is_accounted(raws: list[dict]) -> None:
    out = list(ClaudeCodeReader().parse(iter(enumerate(raws, start=1))))
    lines = sorted(o.source_line if isinstance(o, RequestRecord) else o.line for o in out)
    assert lines == list(range(1, len(raws) + 1))


def _call_lines(usages: list[Any]) -> str:
    """One API call written as len(usages) transcript lines (one per content block), each with its usage."""
    lines = []
    for number, usage in enumerate(usages, start=1):
        lines.append(json.dumps({
            "type": "assistant", "sessionId": "s-1", "uuid": f"u-{number}", "requestId": "req_X",
            "timestamp": f"2025-09-01T10:00:0{number}Z",
            "message": {"id": "msg_X", "model": "claude-sonnet-4-5-20250929", "role": "assistant",
                        "content": [{"type": "text", "text": f"block {number}"}], "usage": usage},
        }))
    return "\n".join(lines) + "\n"


def test_a_call_whose_last_line_is_unreadable_is_rejected_once(tmp_path: Path) -> None:
    """Never priced from an earlier line (its output count is under-reported): one rejection, the rest skipped."""
    good = {"input_tokens": 10, "output_tokens": 1}
    path = tmp_path / "t.jsonl"
    path.write_text(_call_lines([good, good, {**good, "output_tokens": True}]))
    requests, skipped, rejected = by_kind(parse_file(path))
    assert requests == [] and rejected == [Rejection(3, "usage.output_tokens is a boolean, not a count")]
    assert [s.line for s in skipped] == [1, 2]


def test_an_unreadable_line_before_the_last_is_a_streaming_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_call_lines([{"input_tokens": 10, "output_tokens": 1}, {"input_tokens": 10},
                                 {"input_tokens": 10, "output_tokens": 40}]))
    requests, skipped, rejected = by_kind(parse_file(path))
    assert rejected == [] and [s.line for s in skipped] == [1, 2]
    assert [(r.source_line, r.output_tokens, r.output_text) for r in requests] == [(3, 40, "block 1\nblock 3")]
