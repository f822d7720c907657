"""Counting tokens of unique texts, once per (text, encoding), on every core.

Each unique text is counted once and only its length is kept. Long texts are counted by
segments (`SegmentCounter`), cut only where the encodings' pre-tokenizer always cuts, so a
paragraph that many texts share (a system prompt with today's date in it, a retrieved
document) is encoded once per process, and the sum is exactly the whole text's count. The texts stay in their
columnar frame: they are turned into Python strings one bounded slice at a time, and worker
processes (forked, one per core) read their slices from the parent's frame (shared pages,
never copied through a pipe), so memory stays bounded by the unique text itself.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from functools import cache
from typing import Any

import polars as pl

from llmaudit.cores import available as available_cores
from llmaudit.redaction import excerpt
from llmaudit.spill import strings_at
from llmaudit.tokens.context_blocks import context_text
from llmaudit.tokens.encodings import load_encoding

PARALLEL_MIN_CHARS = 20_000_000
"""Below this much text, starting worker processes costs more than it saves."""
SLICE_CHARS = 16_000_000
"""At most this much text is held as Python strings at once, per process."""
COUNT_SCHEMA: dict[str, Any] = {"text_hash": pl.String, "encoding": pl.String, "tokens": pl.Int64,
                                "context_tokens": pl.Int64, "context_hash": pl.String, "context_excerpt": pl.String}

SEGMENT_CHARS = 256
"""Segments are at least this long (fewer, longer keys; a changed line costs one segment)."""
MEMO_CHARS = 64_000_000
"""The segment memo holds at most about this much text per process, then starts again."""
SEGMENTED_ENCODINGS = frozenset({"o200k_base", "cl100k_base"})
"""Encodings whose pre-tokenizer cuts at `segments`' cut points (checked in tests/tokens/test_counting.py)."""

_INDENT = re.compile(r"[^\S\r\n]*")
"""White space that is not a line break (Python's is a superset of the tokenizers': a cut is never wrongly made)."""

_jobs: dict[int, tuple[pl.Series, list[tuple[str, pl.DataFrame]], set[str], tuple]] = {}
"""Job id -> (texts, [(encoding, text_hash and row in texts)], context hashes, patterns): forked workers inherit it."""


def segments(text: str, size: int = SEGMENT_CHARS) -> list[str]:
    """``text`` cut into pieces of at least ``size`` characters, only after a single newline that follows a
    character that is not white space and comes before a line that is not blank: no other line break
    before its first character that is not white space, and that character not a slash right after
    the newline.

    There, the o200k and cl100k pre-tokenizers always end a piece: the newline is a piece of its own
    (its white-space piece takes the newlines of the run it starts, and there is no other) or ends a
    punctuation piece (o200k's also takes slashes right after it), and no piece takes a newline in
    front of it. BPE works within pieces, so the segments' counts add up to the text's count. An
    indented line (pretty-printed JSON, code) is a line like any other.
    """
    cuts, start, end = [], 0, len(text)
    at = text.find("\n", size - 1)  # newlines only from `size` on are looked at: one step per segment, mostly
    while -1 < at < end - 1:
        after = _INDENT.match(text, at + 1).end()  # type: ignore[union-attr]  # always matches
        if at > 0 and not text[at - 1].isspace() and after < end and text[after] not in "\r\n" \
                and (after > at + 1 or text[after] != "/"):
            cuts.append(text[start:at + 1])
            start = at + 1
            at = text.find("\n", start + size - 1)
        else:
            at = text.find("\n", at + 1)
    cuts.append(text[start:])
    return cuts


class SegmentCounter:
    """Token counts of texts in one encoding; long texts by segments, each distinct segment encoded once."""

    def __init__(self, encoding: str) -> None:
        self._encode = load_encoding(encoding).encode_ordinary
        self._segmented = encoding in SEGMENTED_ENCODINGS
        self._memo: dict[str, int] = {}
        self._held = 0

    def count(self, text: str) -> int:
        """The token count of ``text`` (no special-token handling)."""
        if not self._segmented or len(text) < 2 * SEGMENT_CHARS:
            return len(self._encode(text))
        total, memo = 0, self._memo
        for segment in segments(text):
            tokens = memo.get(segment)
            if tokens is None:
                tokens = len(self._encode(segment))
                if self._held > MEMO_CHARS:
                    memo.clear()
                    self._held = 0
                memo[segment] = tokens
                self._held += len(segment)
            total += tokens
        return total


@cache
def segment_counter(encoding: str) -> SegmentCounter:
    """This process's counter for ``encoding`` (its memo serves every job the process runs)."""
    return SegmentCounter(encoding)


def _count_chunk(args: tuple[str, list[str]]) -> list[int]:
    encoding, texts = args
    counter = segment_counter(encoding)
    return [counter.count(text) for text in texts]


def count_tokens(texts: Sequence[str], encoding: str, processes: int | None = None) -> list[int]:
    """Token counts of texts (no special-token handling: log text is data, not control).

    tiktoken holds the GIL while it encodes (threads measured slower than one loop), so
    large volumes are split across worker processes, one per core.
    """
    texts = list(texts)
    processes = processes or available_cores()
    volume = sum(len(t) for t in texts)
    if processes < 2 or volume < PARALLEL_MIN_CHARS:
        return _count_chunk((encoding, texts))
    load_encoding(encoding)  # forked workers inherit the loaded ranks
    size = max(1, -(-len(texts) // (processes * 4)))
    chunks = [(encoding, texts[i:i + size]) for i in range(0, len(texts), size)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_count_chunk, chunks)
    return [count for part in parts for count in part]


def _count_slice(task: tuple[int, int, tuple[int, int]]) -> pl.DataFrame:
    """Counts for rows [start, start + length) of one of a job's tables."""
    from llmaudit.table import text_hash

    job, index, bounds = task
    texts, groups, context_hashes, patterns = _jobs[job]
    encoding, table = groups[index]
    part = table.slice(*bounds)
    hashes = part.get_column("text_hash").to_list()
    bodies = list(strings_at(texts, part.get_column("row")))  # this slice only: the texts are never copied whole
    counter = segment_counter(encoding)
    tokens, context_tokens, context_hashes_out, excerpts = [], [], [], []
    for digest, body in zip(hashes, bodies, strict=True):
        body = body or ""
        tokens.append(counter.count(body))
        context = context_text(body, patterns) if digest in context_hashes else ""
        context_tokens.append(counter.count(context) if context else 0)
        context_hashes_out.append(text_hash(context) if context else None)
        excerpts.append(excerpt(context, 200) if context else None)
    return pl.DataFrame({"text_hash": hashes, "encoding": [encoding] * len(hashes), "tokens": tokens,
                         "context_tokens": context_tokens, "context_hash": context_hashes_out,
                         "context_excerpt": excerpts}, schema=COUNT_SCHEMA)


def _slices(chars: list[int], parts: int) -> list[tuple[int, int]]:
    """(start, length) runs of rows of about equal text volume, none above SLICE_CHARS."""
    target = max(1, min(SLICE_CHARS, -(-sum(chars) // max(parts, 1))))
    bounds, start, volume = [], 0, 0
    for row, size in enumerate(chars):
        volume += size
        if volume >= target:
            bounds.append((start, row + 1 - start))
            start, volume = row + 1, 0
    if start < len(chars):
        bounds.append((start, len(chars) - start))
    return bounds


class CountJob:
    """Token counts being computed (by worker processes when the volume pays for them); `result` waits.

    The workers are forked when the job starts, so the process goes on meanwhile (the levers that need
    no token count). A worker that dies makes `result` raise (BrokenProcessPool) rather than wait.
    """

    def __init__(self, pairs: pl.DataFrame, texts: pl.DataFrame, context_hashes: set[str],
                 patterns: tuple = (), processes: int | None = None) -> None:
        processes = processes or available_cores()
        column = texts.get_column("text")
        # The stored lengths when there are (measuring would read every text: pages the texts' file needn't load).
        length = pl.col("chars") if "chars" in texts.columns else column.str.len_chars()
        where = texts.select("text_hash", chars=length).with_row_index("row")
        joined = pairs.unique().join(where, on="text_hash", how="left")
        groups: list[tuple[str, pl.DataFrame]] = []
        chars: list[list[int]] = []
        for (encoding,), group in joined.group_by(["encoding"], maintain_order=True):
            groups.append((str(encoding), group.select("text_hash", "row")))
            chars.append(group.get_column("chars").fill_null(0).to_list())
        parallel = processes > 1 and sum(map(sum, chars)) >= PARALLEL_MIN_CHARS
        self._id = id(self)
        self._tasks = [(self._id, index, bounds) for index, sizes in enumerate(chars)
                       for bounds in _slices(sizes, processes * 4 if parallel else 1)]
        for encoding, _ in groups:
            load_encoding(encoding)  # forked workers inherit the loaded ranks
        _jobs[self._id] = (column, groups, context_hashes, patterns)
        self._frames: list[pl.DataFrame] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[pl.DataFrame]] = []
        self._lock = threading.Lock()
        if parallel:
            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"))
            self._futures = [self._pool.submit(_count_slice, task) for task in self._tasks]
            threading.Thread(target=self._end_when_done, name="llmaudit-count-reaper", daemon=True).start()

    def _end_when_done(self) -> None:
        """End the workers as soon as every slice is counted, not when `result` is asked for: a forked
        worker holds copies of the pages this process changes after the fork (copy-on-write), and
        the levers running meanwhile change many."""
        wait(self._futures)
        self._shutdown(cancel=False)

    def _shutdown(self, cancel: bool) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=cancel)
                self._pool = None

    def cancel(self) -> None:
        """Stop the workers (the counts are no longer wanted)."""
        self._shutdown(cancel=True)
        _jobs.pop(self._id, None)

    def result(self) -> pl.DataFrame:
        """text_hash, encoding, tokens, context_tokens, context_hash, context_excerpt per unique pair."""
        if self._frames is None:
            try:
                if self._futures:
                    self._frames = [future.result() for future in self._futures]
                else:
                    self._frames = [_count_slice(task) for task in self._tasks]
            finally:
                self.cancel()
        return pl.concat(self._frames) if self._frames else pl.DataFrame(schema=COUNT_SCHEMA)
