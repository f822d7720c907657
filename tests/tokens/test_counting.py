"""Token counting by segments: exactly the whole text's count, each shared segment encoded once."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmaudit.tokens import counting
from llmaudit.tokens.counting import SEGMENTED_ENCODINGS, SegmentCounter, count_tokens, segments
from llmaudit.tokens.encodings import load_encoding

TRICKY = ["\n", "\n", "\n", "\r", "\n/", ".\n", " ", "  ", "\t", "/", ".", ",", "'", "'s", "-", "#", "s", "A", "word", "Word",
          "é", "e\u0301", "1", "123", "٣", "½", "²", "中文", "\u00a0", "\u2028", "\x85", "\x1c", "\u3000", "\u200b", "😀",
          "\n  ", "\n\t", " \n", "\r\n", "\v", "{", "}", '"', ":"]  # the last: indentation and JSON


def _whole(text: str, encoding: str) -> int:
    return len(load_encoding(encoding).encode_ordinary(text))


@pytest.mark.parametrize("encoding", sorted(SEGMENTED_ENCODINGS))
@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(TRICKY), max_size=80), size=st.integers(1, 12))
def test_segment_counts_add_up_to_the_whole_count(encoding: str, pieces: list[str], size: int) -> None:
    text = "".join(pieces)
    cut = segments(text, size)
    assert "".join(cut) == text
    encode = load_encoding(encoding).encode_ordinary
    assert [token for segment in cut for token in encode(segment)] == encode(text)  # the same tokens, not only as many


def test_segments_cut_only_after_a_lone_newline_before_a_line_that_is_not_blank() -> None:
    assert segments("aaaa\nbbbb\ncccc", 1) == ["aaaa\n", "bbbb\n", "cccc"]
    assert segments("aaaa\n\nbbbb", 1) == ["aaaa\n\nbbbb"]  # a blank line: the newlines may join
    assert segments("aaaa \nbbbb", 1) == ["aaaa \nbbbb"]
    assert segments("aaaa.\n/bbb", 1) == ["aaaa.\n/bbb"]  # o200k: ".\n/" is one piece
    assert segments("aaaa\n- bb\ncc", 1) == ["aaaa\n", "- bb\n", "cc"]
    assert segments("aaaa\nbbbb\ncccc", 8) == ["aaaa\nbbbb\n", "cccc"]
    # Indented lines (pretty-printed JSON): the newline's piece stops before the indentation.
    assert segments('{\n  "a": 1,\n  "b": [\n    2\n  ]\n}', 1) == ['{\n', '  "a": 1,\n', '  "b": [\n', '    2\n', '  ]\n', '}']
    assert segments("aaaa\n  /bb", 1) == ["aaaa\n", "  /bb"]  # the slash is not right after the newline
    assert segments("aaaa\n  \nbbbb", 1) == ["aaaa\n  \nbbbb"]  # a blank line, however indented
    assert segments("aaaa\n \rbbbb", 1) == ["aaaa\n \rbbbb"]
    assert segments("aaaa\n   ", 1) == ["aaaa\n   "]


@pytest.mark.parametrize("encoding", sorted(SEGMENTED_ENCODINGS))
def test_shared_paragraphs_are_encoded_once(encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = "".join(f"- Rule {n}: answer in the customer's language, never guess, offer a human agent.\n" for n in range(40))
    texts = [f"You are Aria.\nCurrent date: 2025-09-{day:02d} 12:{day:02d} UTC.\n{body}End." for day in range(1, 29)]
    counter = SegmentCounter(encoding)
    encoded: list[str] = []
    real = counter._encode
    monkeypatch.setattr(counter, "_encode", lambda text: encoded.append(text) or real(text))
    assert [counter.count(text) for text in texts] == [_whole(text, encoding) for text in texts]
    # The rules once, then only each text's changed segment (at most two segments' worth).
    assert sum(map(len, encoded)) < len(texts[0]) + len(texts) * 2 * counting.SEGMENT_CHARS < sum(map(len, texts)) / 3


def test_the_memo_starts_again_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counting, "MEMO_CHARS", 1_000)
    counter = SegmentCounter("o200k_base")
    texts = [f"Line {n} of a long text about item {n}.\n" * 40 + f"Tail {n}." for n in range(20)]
    assert [counter.count(text) for text in texts] == [_whole(text, "o200k_base") for text in texts]
    assert sum(map(len, counter._memo)) <= 1_000 + max(map(len, texts))


def test_count_tokens_matches_the_encoder() -> None:
    texts = ["", "hello world", "x\n" * 600 + "end", "Ünïcödé\n" * 300]
    assert count_tokens(texts, "cl100k_base", processes=1) == [_whole(text, "cl100k_base") for text in texts]


def _job_inputs(n: int = 60) -> tuple[pl.DataFrame, pl.DataFrame]:
    texts = pl.DataFrame({"text_hash": [f"h{i}" for i in range(n)],
                          "text": [f"Text number {i}.\n" + "word " * (i * 7) for i in range(n)]})
    texts = texts.with_columns(chars=pl.col("text").str.len_chars())
    pairs = pl.DataFrame({"text_hash": texts.get_column("text_hash"), "encoding": "o200k_base"})
    return pairs, texts


def test_count_job_workers_give_the_same_counts_and_end_when_done(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from llmaudit.tokens.counting import CountJob

    pairs, texts = _job_inputs()
    alone = CountJob(pairs, texts, set(), processes=1).result().sort("text_hash")
    monkeypatch.setattr(counting, "PARALLEL_MIN_CHARS", 0)
    job = CountJob(pairs, texts, set(), processes=2)
    assert job._pool is not None
    deadline = time.monotonic() + 60
    while job._pool is not None and time.monotonic() < deadline:  # ended without anyone asking for the result
        time.sleep(0.05)
    assert job._pool is None
    assert job.result().sort("text_hash").equals(alone)
    assert alone.get_column("tokens").to_list() == [_whole(t, "o200k_base") for t in texts.sort("text_hash")["text"]]


def _die(task: object) -> None:
    import os

    os._exit(3)


def test_count_job_with_a_dead_worker_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from llmaudit.tokens.counting import CountJob

    pairs, texts = _job_inputs()
    monkeypatch.setattr(counting, "PARALLEL_MIN_CHARS", 0)
    monkeypatch.setattr(counting, "_count_slice", _die)  # the forked workers inherit it
    with pytest.raises(BrokenProcessPool):
        CountJob(pairs, texts, set(), processes=2).result()


def _reference_segments(text: str, size: int) -> list[str]:
    """segments as first written, line by line: the oracle for the expression-driven one."""
    lines = text.split("\n")
    cuts, start, position = [], 0, 0
    for line, after in zip(lines[:-1], lines[1:], strict=True):
        position += len(line) + 1
        indent = after[:len(after) - len(after.lstrip())]
        if position - start >= size and line and not line[-1].isspace() and len(indent) < len(after) \
                and "\r" not in indent and (indent or after[0] != "/"):
            cuts.append(text[start:position])
            start = position
    cuts.append(text[start:])
    return cuts


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(st.sampled_from(TRICKY), max_size=80), size=st.integers(1, 40))
def test_segments_cut_where_the_line_by_line_rule_cuts(pieces: list[str], size: int) -> None:
    text = "".join(pieces)
    assert segments(text, size) == _reference_segments(text, size)
