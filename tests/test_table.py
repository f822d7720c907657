"""The table builder: texts stored once by hash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaudit import table
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
