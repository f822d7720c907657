"""Exact response cache with planted duplicates: hits, TTL, deterministic share, per feature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from llmaudit.analyses.exact_cache import ExactCacheLever
from llmaudit.analyses.interface import AnalysisContext, LeverConfig
from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.pricing.costs import compute_costs
from llmaudit.pricing.resolver import PriceResolver
from llmaudit.table import TableBuilder
from llmaudit.tokens.attribution import MEDIA_KINDS, attribute

START = datetime(2025, 9, 1, 9, tzinfo=UTC)
SYSTEM = "You classify support tickets into billing, shipping, bug or other. Reply with one word."


def request(index: int, minutes: float, query: str, *, temperature: float | None = 0.0, feature: str = "classifier",
            model: str = "gpt-4o", tokens: int = 400) -> RequestRecord:
    return RequestRecord(
        source_line=index, request_id=f"r{index}", ts=START + timedelta(minutes=minutes), model=model, provider="openai",
        feature=feature, temperature=temperature, input_tokens=tokens, output_tokens=2,
        messages=[Message("system", SYSTEM), Message("user", query)],
    )


def context_for(records: list[RequestRecord], ttl_hours: float = 24.0) -> AnalysisContext:
    builder = TableBuilder()
    for record in records:
        builder.add(record, "test", "t.jsonl")
    priced = compute_costs(builder.requests_frame(), PriceResolver(), None)
    _, message_tokens = attribute(priced, builder.messages_frame(), builder.texts_frame())
    media = builder.messages_frame().filter(pl.col("kind").is_in(MEDIA_KINDS))
    return AnalysisContext(priced, message_tokens, builder.texts_frame().select("text_hash", "text"), 30.0,
                           LeverConfig(exact_cache_ttl_hours=ttl_hours), media=media)


def test_planted_duplicates() -> None:
    # gpt-4o: $2.50 in / $10 out. Each request: 400 in, 2 out = $0.00102.
    per_request = (400 * 2.5 + 2 * 10) / 1e6
    records = [
        request(0, 0, "My card was charged twice"),
        request(1, 5, "My card was charged twice"),           # hit
        request(2, 10, "My card was charged twice"),          # hit
        request(3, 11, "Parcel never arrived"),
        request(4, 12, "Parcel never arrived", temperature=0.7),  # other params: a different key, miss
        request(5, 13, "Parcel never arrived", temperature=0.7),  # hit, non-deterministic
        request(6, 60 * 30, "My card was charged twice"),     # 30 h later: TTL expired, miss (refills)
        request(7, 60 * 30 + 1, "My card was charged twice"),  # hit
        request(8, 14, "Parcel never arrived", model="gpt-4o-mini", feature="bot"),  # other model: miss
    ]
    result = ExactCacheLever().run(context_for(records))
    assert result.affected_requests == 4
    assert result.savings_usd == pytest.approx(4 * per_request, abs=1e-9)
    assert result.details["deterministic_hits"] == 3
    assert result.details["deterministic_savings_usd"] == pytest.approx(3 * per_request, abs=1e-9)
    assert result.monthly_savings_usd == pytest.approx(4 * per_request, abs=0.01)
    by_feature = {row["feature"]: row for row in result.details["by_feature"]}
    assert by_feature["classifier"]["hits"] == 4 and by_feature["bot"]["hits"] == 0
    assert result.details["top_repeated"][0]["excerpt"] == "My card was charged twice"
    assert result.details["top_repeated"][0]["hits"] == 3


def test_ttl_is_configurable() -> None:
    records = [request(0, 0, "Same"), request(1, 90, "Same")]
    assert ExactCacheLever().run(context_for(records, ttl_hours=1)).affected_requests == 0
    assert ExactCacheLever().run(context_for(records, ttl_hours=2)).affected_requests == 1


def test_skipped_without_prompt_text() -> None:
    bare = RequestRecord(source_line=1, request_id="x", ts=START, model="gpt-4o", provider="openai", input_tokens=10, output_tokens=1)
    result = ExactCacheLever().run(context_for([bare]))
    assert result.skipped_reason is not None
    assert isinstance(context_for([bare]).requests, pl.DataFrame)


def _variant(index: int, change: str) -> RequestRecord:
    record = request(index, index, "Where is my parcel?")
    if change == "order":
        record.messages = list(reversed(record.messages))
    elif change == "role":
        record.messages = [Message("developer", SYSTEM), record.messages[1]]
    elif change == "tools":
        record.tools = ['{"name":"track"}']
    elif change == "top_p":
        record.top_p = 0.5
    elif change == "max_tokens":
        record.max_tokens = 64
    elif change == "seed":
        record.seed = 42
    elif change == "temperature":
        record.temperature = None
    elif change == "extra turn":
        record.messages = [*record.messages, Message("assistant", "Let me check."), Message("user", "Thanks")]
    return record


@pytest.mark.parametrize("change", ["order", "role", "tools", "top_p", "max_tokens", "seed", "temperature", "extra turn"])
def test_every_part_of_the_key_tells_requests_apart(change: str) -> None:
    """The same input again is a hit; a request differing in any one part of the key is not."""
    records = [_variant(0, "none"), _variant(1, change), _variant(2, "none")]
    result = ExactCacheLever().run(context_for(records))
    assert result.affected_requests == 1  # only the third, a repeat of the first


def test_the_key_follows_seq_not_row_order() -> None:
    """Message rows may come in any order (joins do not keep it): the key reads them by their seq."""
    records = [_variant(0, "tools"), _variant(1, "order"), _variant(2, "tools"), _variant(3, "order")]
    context = context_for(records)
    for seed in range(5):
        shuffled = AnalysisContext(context.requests, context.messages.sample(fraction=1.0, shuffle=True, seed=seed),
                                   context.texts, context.window_days, context.config)
        assert ExactCacheLever().run(shuffled).affected_requests == 2


def test_the_same_question_about_another_image_is_not_a_hit() -> None:
    """Media parts carry a digest of their data: a receipt photo is part of the input like any text."""
    from llmaudit.ingest.coerce import content_parts

    def about(index: int, image: str) -> RequestRecord:
        record = request(index, index, "unused")
        record.messages = content_parts("user", [
            {"type": "text", "text": "What is the total on this receipt?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
        ])
        return record

    result = ExactCacheLever().run(context_for([about(0, "iVBORw0KGgoAAA"), about(1, "iVBORw0KGgoBBB"),
                                                about(2, "iVBORw0KGgoAAA")]))
    assert result.affected_requests == 1  # only the second photo of the first receipt


def test_settings_that_change_the_answer_are_part_of_the_key() -> None:
    """JSON mode, stop sequences, n or a reasoning effort make another answer of the same prompt."""
    records = [request(i, i, "Summarise ticket 4411") for i in range(5)]
    records[1].output_params = '{"response_format":{"type":"json_object"}}'
    records[2].output_params = '{"stop":["\\n"]}'
    records[3].output_params = '{"reasoning_effort":"high"}'
    result = ExactCacheLever().run(context_for(records))
    assert result.affected_requests == 1  # the fifth alone repeats the first
