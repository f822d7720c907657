"""The table builder: texts stored once by hash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaudit import table
from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.table import TableBuilder, text_hash


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
    builder.add(_request("req-b", 1, "first copy of b"), "t", "f")
    builder.add(_request("req-a", 1, "a"), "t", "f")
    builder.add(_request("req-b", 9, "later, completed copy of b"), "t", "f")  # supersedes the first copy
    requests, messages = builder.requests_frame(), builder.messages_frame()
    assert requests.schema["request_id"] == table.REQUEST_NUMBER
    assert dict(zip(requests["logged_id"], requests["request_id"], strict=True)) == {"req-a": 1, "req-b": 2}
    assert messages.schema["request_id"] == table.REQUEST_NUMBER
    queries = messages.filter(messages["role"] == "user").join(requests.select("request_id", "logged_id"), on="request_id")
    texts = dict(zip(builder.texts_frame()["text_hash"], builder.texts_frame()["text"], strict=True))
    assert sorted((r, texts[h]) for r, h in zip(queries["logged_id"], queries["text_hash"], strict=True)) == [
        ("req-a", "a"), ("req-b", "later, completed copy of b")]
    assert messages.height == 4
