"""Counting tokens of unique texts, once per (text, encoding), on every core.

Each unique text is encoded once and only its length is kept, so memory stays bounded by
the texts themselves. Large volumes are counted by one worker process per core.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence

import polars as pl

from llmaudit.tokens.context_blocks import context_text
from llmaudit.tokens.encodings import load_encoding

PARALLEL_MIN_CHARS = 20_000_000
"""Below this much text, starting worker processes costs more than it saves."""


def _count_chunk(args: tuple[str, list[str]]) -> list[int]:
    encoding, texts = args
    enc = load_encoding(encoding)
    return [len(enc.encode_ordinary(text)) for text in texts]


def count_tokens(texts: Sequence[str], encoding: str, processes: int | None = None) -> list[int]:
    """Token counts of texts (no special-token handling: log text is data, not control).

    tiktoken holds the GIL while it encodes (threads measured slower than one loop), so
    large volumes are split across worker processes, one per core.
    """
    texts = list(texts)
    processes = processes or os.cpu_count() or 1
    volume = sum(len(t) for t in texts)
    if processes < 2 or volume < PARALLEL_MIN_CHARS:
        return _count_chunk((encoding, texts))
    load_encoding(encoding)  # forked workers inherit the loaded ranks
    size = max(1, -(-len(texts) // (processes * 4)))
    chunks = [(encoding, texts[i:i + size]) for i in range(0, len(texts), size)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_count_chunk, chunks)
    return [count for part in parts for count in part]


def count_text_table(pairs: pl.DataFrame, texts: pl.DataFrame, context_hashes: set[str],
                     patterns: tuple = ()) -> pl.DataFrame:
    """Tokens for each unique (text_hash, encoding) pair, plus the retrieved-context part of user queries.

    Returns text_hash, encoding, tokens, context_tokens, context_hash.
    """
    from llmaudit.table import text_hash

    joined = pairs.unique().join(texts.select("text_hash", "text"), on="text_hash", how="left")
    frames = []
    for (encoding,), group in joined.group_by(["encoding"], maintain_order=True):
        hashes = group.get_column("text_hash").to_list()
        bodies = [t or "" for t in group.get_column("text").to_list()]
        tokens = count_tokens(bodies, str(encoding))
        contexts = [context_text(b, patterns) if h in context_hashes else "" for h, b in zip(hashes, bodies, strict=True)]
        context_counts = count_tokens(contexts, str(encoding))
        frames.append(pl.DataFrame({
            "text_hash": hashes,
            "encoding": [str(encoding)] * len(hashes),
            "tokens": tokens,
            "context_tokens": context_counts,
            "context_hash": [text_hash(c) if c else None for c in contexts],
            "context_excerpt": [c[:200] if c else None for c in contexts],
        }, schema={"text_hash": pl.String, "encoding": pl.String, "tokens": pl.Int64, "context_tokens": pl.Int64,
                   "context_hash": pl.String, "context_excerpt": pl.String}))
    if not frames:
        return pl.DataFrame(schema={"text_hash": pl.String, "encoding": pl.String, "tokens": pl.Int64,
                                    "context_tokens": pl.Int64, "context_hash": pl.String, "context_excerpt": pl.String})
    return pl.concat(frames)
