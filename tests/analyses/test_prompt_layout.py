"""Static parts placed after a part that varies: found per feature, the first part taken in prompt order."""

from __future__ import annotations

import polars as pl

from llmaudit.analyses.cache_replay import PART_SCHEMA, part_key
from llmaudit.analyses.prompt_layout import find_static_after_varying

PARTS_SCHEMA = {**PART_SCHEMA, "group_key": pl.Categorical}


def _number(request: str) -> int:
    """The replay numbers requests: a1 -> 1, b3 -> 103."""
    return (100 if request[0] == "b" else 0) + int(request[1:])


def _parts(rows: list[tuple[str, int, str, float, str, str]]) -> pl.DataFrame:
    """Parts named by their text: the key is the name's hash, as prompt_parts makes it."""
    return pl.DataFrame(
        [(_number(rid), order, key, tokens, component, key, False, group)
         for rid, order, key, tokens, component, group in rows],
        schema={**PARTS_SCHEMA, "key": pl.String}, orient="row",
    ).with_columns(key=part_key("key")).cast(PARTS_SCHEMA)  # type: ignore[arg-type]


def _rules(requests: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({
        "request_id": [_number(r) for r in requests], "group_key": list(requests.values()),
        "min_tokens": [1024] * len(requests),
        "family": ["openai"] * len(requests), "model": ["gpt-4o"] * len(requests), "feature": list(requests.values()),
    }).with_columns(pl.col("request_id").cast(pl.UInt32), pl.col("group_key").cast(pl.Categorical))


def test_a_static_document_after_a_varying_first_message_is_found() -> None:
    rows, requests = [], {}
    for i in range(5):
        rid = f"a{i}"
        requests[rid] = "support"
        # Stored out of prompt order, with the tools first in the prompt: the first message part is the query.
        rows += [(rid, 2, "manual", 2_000.0, "context", "support"), (rid, 1, f"question-{i}", 40.0, "query", "support"),
                 (rid, 0, "tools", 300.0, "tools", "support")]
    for i in range(5):
        rid = f"b{i}"
        requests[rid] = "faq"  # the same first part everywhere: already a shared prefix
        rows += [(rid, 0, "system", 50.0, "system", "faq"), (rid, 1, "manual", 2_000.0, "context", "faq")]
    texts = pl.DataFrame({"text_hash": ["manual"], "text": ["The product manual, chapter one"]})
    found = find_static_after_varying(_parts(rows), texts, _rules(requests))
    manual = _parts([("a0", 0, "manual", 1.0, "context", "support")]).item(0, "key")
    assert [(f.feature, f.key, f.requests, f.first_varies_share, f.first_component) for f in found] == [
        ("support", manual, 5, 1.0, "query")]
    assert found[0].excerpt.startswith("The product manual")


def test_nothing_when_every_first_part_is_shared() -> None:
    rows = [(f"b{i}", order, key, tokens, component, "faq") for i in range(5)
            for order, key, tokens, component in ((0, "system", 50.0, "system"), (1, "manual", 2_000.0, "context"))]
    assert find_static_after_varying(_parts(rows), pl.DataFrame({"text_hash": ["manual"], "text": ["m"]}),
                                     _rules({f"b{i}": "faq" for i in range(5)})) == []
