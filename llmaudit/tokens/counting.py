"""Counting tokens of unique texts, once per (text, encoding), on every core.

tiktoken's batch encoder runs in Rust threads that release the GIL, so a thread pool of
the machine's cores tokenizes in parallel. Texts go in chunks so the token-id lists of a
chunk are dropped as soon as they are counted (memory stays bounded by the chunk).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import polars as pl

from llmaudit.tokens.context_blocks import context_text
from llmaudit.tokens.encodings import load_encoding

CHUNK_TEXTS = 4096


def count_tokens(texts: Sequence[str], encoding: str, threads: int | None = None) -> list[int]:
    """Token counts of texts (no special-token handling: log text is data, not control)."""
    enc = load_encoding(encoding)
    threads = threads or os.cpu_count() or 1
    counts: list[int] = []
    for start in range(0, len(texts), CHUNK_TEXTS):
        chunk = list(texts[start:start + CHUNK_TEXTS])
        counts.extend(len(ids) for ids in enc.encode_ordinary_batch(chunk, num_threads=threads))
    return counts


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
