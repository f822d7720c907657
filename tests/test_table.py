"""The table builder: texts stored once by hash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaudit import table
from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.table import TableBuilder, dedup_key, shown_id, text_hash


@given(st.lists(st.sampled_from(["", "system prompt", "é\U0001f600", "\ud800 lone"]) | st.text(max_size=40), max_size=60))
def test_remembered_digests_are_the_text_hashes(texts: list[str]) -> None:
    builder = TableBuilder()
    assert [builder.digest(t) for t in texts + texts] == [text_hash(t) for t in texts + texts]


def test_the_memory_of_digests_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table, "DIGEST_MEMO_CHARS", 100)
    builder = TableBuilder()
    for n in range(50):
        assert builder.digest(f"text number {n:04d}") == text_hash(f"text number {n:04d}")
        assert builder.recent_chars == sum(map(len, builder.recent_digests)) <= 100
    assert 0 < len(builder.recent_digests) < 50


def _request(logged_id: str, output_tokens: int, question: str) -> RequestRecord:
    return RequestRecord(source_line=1, request_id=logged_id, model="gpt-4o", input_tokens=10, output_tokens=output_tokens,
                         messages=[Message("system", "shared"), Message("user", question)])


def test_requests_are_numbered_by_logged_id_and_messages_follow_the_copy_kept() -> None:
    builder = TableBuilder()
    builder.add(_request("chatcmpl-req-b-0000001", 1, "first copy of b"), "t", "f")
    builder.add(_request("chatcmpl-req-a-0000001", 1, "a"), "t", "f")
    builder.add(_request("chatcmpl-req-b-0000001", 9, "later, completed copy of b"), "t", "f")  # supersedes the first copy
    requests, messages = builder.requests_frame(), builder.messages_frame()
    assert requests.schema["request_id"] == table.REQUEST_NUMBER
    assert dict(zip(requests["logged_id"], requests["request_id"], strict=True)) == {"chatcmpl-req-a-0000001": 1, "chatcmpl-req-b-0000001": 2}
    assert messages.schema["request_id"] == table.REQUEST_NUMBER
    queries = messages.filter(messages["role"] == "user").join(requests.select("request_id", "logged_id"), on="request_id")
    texts = dict(zip(builder.texts_frame()["text_hash"], builder.texts_frame()["text"], strict=True))
    assert sorted((r, texts[h]) for r, h in zip(queries["logged_id"], queries["text_hash"], strict=True)) == [
        ("chatcmpl-req-a-0000001", "a"), ("chatcmpl-req-b-0000001", "later, completed copy of b")]
    assert messages.height == 4


def test_a_request_row_holds_each_field_of_its_record() -> None:
    """The builder copies the record's fields by name (`table._RECORD_FIELDS`): each lands in its own column."""
    from dataclasses import fields
    from datetime import UTC, datetime

    fixed = {"source_line": 7, "ts": datetime(2026, 3, 1, 12, 30, tzinfo=UTC), "is_batch": True, "stream": False,
             "status": "error", "latency_ms": 812.5, "ttft_ms": 90.25, "temperature": 0.3, "max_tokens": 256,
             "seed": 11, "top_p": 0.9, "input_tokens": 1200, "cache_read_tokens": 1024, "cache_write_tokens": 64,
             "cache_write_1h_tokens": 32, "output_tokens": 300, "reasoning_tokens": 120, "cost_reported_usd": 0.0123,
             "request_count": 3, "is_aggregate": True, "served_from_cache": True}
    texts = {f.name: f"{f.name}-value" for f in fields(RequestRecord) if f.name not in fixed and f.type == "str | None"}
    record = RequestRecord(**fixed, **texts, messages=[Message("user", "q")])  # type: ignore[arg-type]
    builder = TableBuilder()
    builder.add(record, "fmt", "file.jsonl")
    row = builder.requests_frame().row(0, named=True)
    copied = list(table.REQUEST_SCHEMA)[3:-4]
    assert copied == [name for name in table.REQUEST_SCHEMA if name in {f.name for f in fields(RequestRecord)}]
    assert {name: row[name] for name in copied} == {name: getattr(record, name) for name in copied}
    strings = [row[name] for name in copied if isinstance(row[name], str)]
    assert len(strings) > 10 and len(set(strings)) == len(strings)  # distinct values: none landed in another's column


def test_the_time_column_holds_each_timestamp_to_the_microsecond_in_utc() -> None:
    """Zoned, naive (read as UTC) and missing times land as they are: the column is built from microseconds."""
    from datetime import UTC, datetime, timedelta, timezone

    stamps = [datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC),
              datetime(2026, 3, 1, 14, 30, 5, 999999, tzinfo=timezone(timedelta(hours=2))),
              datetime(2026, 3, 1, 12, 30, 5, 1), None, datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)]
    builder = TableBuilder()
    for number, ts in enumerate(stamps):
        builder.add(RequestRecord(source_line=number, request_id=f"msg_0123456789abcdef{number}", ts=ts,
                                  messages=[Message("user", "q")]), "fmt", "file")
    column = builder.requests_frame().sort("source_line")["ts"]
    assert column.dtype == table.REQUEST_SCHEMA["ts"]
    assert column.to_list() == [None if ts is None else ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
                                for ts in stamps]


def test_message_rows_list_the_parts_in_order_then_the_tools() -> None:
    record = RequestRecord(source_line=1, request_id="msg_0123456789abcdef", tools=['{"name":"a"}', '{"name":"b"}'],
                           messages=[Message("system", "s"), Message("user", "q1"), Message("assistant", "a1"),
                                     Message("tool", "r", "tool_result"), Message("user", "q2")])
    builder = TableBuilder()
    builder.add(record, "fmt", "file")
    rows = builder.messages_frame().select("seq", "role", "kind", "component").rows()
    assert rows == [(0, "system", "text", "system"), (1, "user", "text", "history"),
                    (2, "assistant", "text", "history"), (3, "tool", "tool_result", "history"),
                    (4, "user", "text", "query"), (-1, "tools", "tool_schema", "tools"),
                    (-2, "tools", "tool_schema", "tools")]
    texts = dict(zip(builder.texts_frame()["text_hash"], builder.texts_frame()["text"], strict=True))
    assert [texts[h] for h in builder.messages_frame()["text_hash"]] == ["s", "q1", "a1", "r", "q2", '{"name":"a"}',
                                                                       '{"name":"b"}']


def test_missing_token_totals_are_zero_in_the_row() -> None:
    builder = TableBuilder()
    builder.add(RequestRecord(source_line=1, request_id="r", messages=[Message("user", "q")]), "fmt", "file")
    row = builder.requests_frame().row(0, named=True)
    assert (row["input_tokens"], row["output_tokens"]) == (0, 0)


@pytest.mark.parametrize(("logged", "key"), [
    ("chatcmpl-9xK2mQ7bT4vL1nR8sW3yZ", "chatcmpl-9xK2mQ7bT4vL1nR8sW3yZ"),
    ("0b8e4c1e-5a2f-4d8b-9c3e-7f1a2b3c4d5e", "0b8e4c1e-5a2f-4d8b-9c3e-7f1a2b3c4d5e"),
    ("42", "42~syn-abc"),
    ("12345678901234567890", "12345678901234567890~syn-abc"),
    ("request-1", "request-1~syn-abc"),
    (None, "syn-abc"),
])
def test_only_ids_unique_everywhere_mark_copies_alone(logged: str | None, key: str) -> None:
    assert dedup_key(logged, "syn-abc") == key
    assert shown_id(key) == (logged or "syn-abc")


def test_a_short_id_is_one_request_only_with_the_same_content() -> None:
    builder = TableBuilder()
    assert builder.add(_request("7", 1, "a question from one app"), "t", "f")
    assert builder.add(_request("7", 1, "a question from another app"), "t", "g")
    assert not builder.add(_request("7", 1, "a question from one app"), "t", "f")  # the same row, read again
    assert builder.requests_frame().height == 2
