"""Per-request views of the prompt that several levers share: input key, system key, query text."""

from __future__ import annotations

import re

import polars as pl

from llmaudit.spill import strings_at
from llmaudit.table import text_hash
from llmaudit.tokens.context_blocks import context_spans, spans_text

QUERY_START_CHARS = 200
"""The opening of a query kept for excerpts (the whole text stays in the mapped texts)."""
PART_SEED, KEY_SEED = 3, 5
"""Fixed seeds: the keys are the same in every run (audit.json is deterministic)."""


def input_keys(messages: pl.DataFrame) -> pl.DataFrame:
    """request_id -> ``parts``, a 64-bit key of the full ordered input (roles, kinds, texts, tool schemas).

    A hash of the parts' hashes in order, not their text joined: a million requests' joined keys were
    400 MB of strings. Two different inputs share a key with odds of about n^2 / 2^65 (3e-8 for a
    million distinct inputs), as the prompt-cache replay's prefix keys do.
    """
    part = pl.struct("role", "kind", "text_hash").hash(PART_SEED)
    return (
        messages.group_by("request_id", maintain_order=True)
        .agg(parts=part.sort_by("seq"),
             message_count=(pl.col("component") != "tools").sum(),
             history_count=(pl.col("component") == "history").sum())
        .with_columns(pl.col("parts").hash(KEY_SEED))
    )


def turn_counts(messages: pl.DataFrame) -> pl.DataFrame:
    """request_id -> history_count (earlier turns resent), for each request that carries prompt text."""
    return messages.group_by("request_id").agg(history_count=(pl.col("component") == "history").sum())


def system_keys(messages: pl.DataFrame) -> pl.DataFrame:
    """request_id -> system_key, a 64-bit key of its system/developer messages in order (requests without
    any have no row). A hash, not the hashes joined: a million requests' joined keys were 390 MB."""
    return (
        messages.filter(pl.col("component") == "system")
        .group_by("request_id")
        .agg(system_key=pl.col("text_hash").hash(PART_SEED).sort_by("seq"))
        .with_columns(pl.col("system_key").hash(KEY_SEED))
    )


def split_query(text: str | None, patterns: tuple[re.Pattern[str], ...] = ()) -> tuple[str, str]:
    """(the question: the message without its context blocks, a hash of the context blocks or '' when none)."""
    if not text:
        return "", ""
    spans = context_spans(text, patterns)
    if not spans:
        return text.strip(), ""
    kept, cursor = [], 0
    for start, end in spans:
        kept.append(text[cursor:start])
        cursor = end
    kept.append(text[cursor:])
    return " ".join(" ".join(kept).split()), text_hash(spans_text(text, spans))


def query_texts(messages: pl.DataFrame, texts: pl.DataFrame,
                patterns: tuple[re.Pattern[str], ...] = ()) -> pl.DataFrame:
    """request_id -> its current user query message: hash, opening (``query_start``, null when its text is
    not in ``texts``), the question without context blocks, and context_key (a hash of those blocks, ''
    when none). ``patterns``: the user's own context markers."""
    latest = (
        messages.filter(pl.col("component") == "query")
        .sort(["request_id", "seq"])
        .group_by("request_id", maintain_order=True)
        .agg(pl.col("text_hash").last())
    )
    rows = texts.select("text_hash").with_row_index("text_row").join(
        latest.select("text_hash").unique(), on="text_hash", how="semi")
    questions, context_keys, openings = [], [], []
    for text in strings_at(texts.get_column("text"), rows.get_column("text_row")):
        question, context_key = split_query(text, patterns)
        questions.append(question)
        context_keys.append(context_key)
        openings.append(None if text is None else text[:QUERY_START_CHARS])
    split = rows.select("text_hash").with_columns(
        question=pl.Series(questions, dtype=pl.String),
        context_key=pl.Series(context_keys, dtype=pl.String),
        query_start=pl.Series(openings, dtype=pl.String),
    )
    return latest.join(split, on="text_hash", how="left").select(
        "request_id", "context_key", "query_start", "question", query_hash="text_hash"
    )
