"""Per-request views of the prompt that several levers share: input key, system key, query text."""

from __future__ import annotations

import polars as pl


def input_keys(messages: pl.DataFrame) -> pl.DataFrame:
    """request_id -> a key of the full ordered input (roles, kinds, texts, tool schemas)."""
    return (
        messages.sort(["request_id", "seq"])
        .group_by("request_id", maintain_order=True)
        .agg(parts=pl.concat_str([pl.col("role"), pl.col("kind"), pl.col("text_hash")], separator=":").str.join("|"),
             message_count=(pl.col("component") != "tools").sum(),
             history_count=(pl.col("component") == "history").sum())
    )


def system_keys(messages: pl.DataFrame) -> pl.DataFrame:
    """request_id -> the concatenated hashes of its system/developer messages ('' when none)."""
    return (
        messages.filter(pl.col("component") == "system").sort(["request_id", "seq"])
        .group_by("request_id", maintain_order=True)
        .agg(system_key=pl.col("text_hash").str.join("|"))
    )


def query_texts(messages: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """request_id -> the text of its current user query message."""
    return (
        messages.filter(pl.col("component") == "query")
        .sort(["request_id", "seq"])
        .group_by("request_id", maintain_order=True)
        .agg(pl.col("text_hash").last())
        .join(texts.select("text_hash", "text"), on="text_hash", how="left")
        .select("request_id", query_hash="text_hash", query=pl.col("text"))
    )
