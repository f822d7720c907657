"""Per-request keys of the prompt: equal exactly when the parts they stand for are."""

from __future__ import annotations

import polars as pl

from llmaudit.analyses.prompt_view import system_keys


def _messages(rows: list[tuple[str, int, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"request_id": pl.String, "seq": pl.Int32, "component": pl.String,
                                      "text_hash": pl.String}, orient="row")


def test_system_keys_follow_the_system_messages_in_order() -> None:
    keys = dict(system_keys(_messages([
        ("same-1", 0, "system", "a"), ("same-1", 1, "system", "b"), ("same-1", 2, "query", "q1"),
        ("same-2", 1, "system", "b"), ("same-2", 0, "system", "a"), ("same-2", 2, "query", "q2"),  # stored out of order
        ("swapped", 0, "system", "b"), ("swapped", 1, "system", "a"),
        ("other", 0, "system", "c"),
        ("none", 0, "query", "q1"),
    ])).iter_rows())
    assert keys["same-1"] == keys["same-2"]
    assert len({keys["same-1"], keys["swapped"], keys["other"]}) == 3
    assert "none" not in keys
