"""Attribution with planted truth: components, calibration, cache-prefix allocation, context blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.pricing.costs import compute_costs
from llmaudit.pricing.resolver import PriceResolver
from llmaudit.table import TableBuilder
from llmaudit.tokens.attribution import Attribution, attribute
from llmaudit.tokens.encodings import load_encoding

START = datetime(2025, 9, 1, tzinfo=UTC)
SYSTEM = "You are Acme's support assistant. Answer politely and cite the policy. " * 20
DOC = "Refunds are processed within five business days after the return is approved. "


def count(text: str) -> int:
    return len(load_encoding("o200k_base").encode_ordinary(text))


def run(records: list[RequestRecord]) -> Attribution:
    builder = TableBuilder()
    for record in records:
        builder.add(record, "test", "t.jsonl")
    priced = compute_costs(builder.requests_frame(), PriceResolver(), None)
    return attribute(priced, builder.messages_frame(), builder.texts_frame())[0]


def chat(index: int, messages: list[Message], model: str = "gpt-4o-mini", extra: int = 0, factor: float = 1.0,
         cached: int = 0) -> RequestRecord:
    text_tokens = sum(count(m.text) for m in messages)
    reported = round(text_tokens * factor) + 3 * len(messages) + 3 + extra
    return RequestRecord(
        source_line=index, request_id=f"r{index}", ts=START + timedelta(minutes=index), model=model,
        provider="openai" if model.startswith("gpt") else "anthropic", input_tokens=reported,
        cache_read_tokens=cached, output_tokens=20, messages=messages,
    )


def test_openai_components_exact() -> None:
    records = []
    for i in range(40):
        history = [Message("user", f"Earlier question number {i} about my order."), Message("assistant", "Sure, here it is.")] * (i % 3)
        query = Message("user", f"<documents>{DOC * (1 + i % 4)}</documents>\nQuestion {i}: how long do refunds take?")
        records.append(chat(i, [Message("system", SYSTEM), *history, query]))
    result = run(records)
    assert result.check.requests_with_text == 40
    assert result.check.share_exact == 1.0
    assert result.check.worst_abs_error == 0
    cal = result.calibration[0]
    assert (cal.factor, cal.per_message, cal.constant) == (1.0, 3.0, 3.0)
    assert result.overall["system"].tokens == 40 * count(SYSTEM)
    expected_context = sum(count(f"<documents>{DOC * (1 + i % 4)}</documents>") for i in range(40))
    assert result.overall["context"].tokens == expected_context
    total_input = sum(r.input_tokens or 0 for r in records)
    assert sum(result.overall[c].tokens for c in ("tools", "system", "history", "context", "query", "overhead")) == total_input
    assert result.top_system_prompts[0].requests == 40
    assert result.top_context_blocks, "repeated context blocks are listed"


def test_proxy_model_factor_is_fitted_and_reported() -> None:
    records = [chat(i, [Message("system", SYSTEM[: 200 + 37 * i]), Message("user", f"Question {i}: " + DOC * (i % 5 + 1))],
                    model="claude-sonnet-4-5", factor=1.18) for i in range(60)]
    result = run(records)
    cal = next(c for c in result.calibration if c.model == "claude-sonnet-4-5")
    assert not cal.exact_tokenizer
    assert cal.factor == pytest.approx(1.18, abs=0.01)
    assert cal.held_out > 0 and not cal.evaluated_in_sample
    assert cal.median_abs_error is not None and cal.median_abs_error < 2
    assert cal.p95_abs_error is not None


def test_cache_reads_go_to_the_earliest_components() -> None:
    # gpt-4o-mini: $0.15 input, $0.075 cached. The cached prefix covers the system prompt only.
    system_tokens = count(SYSTEM)
    record = chat(0, [Message("system", SYSTEM), Message("user", "Where is my parcel?")], cached=system_tokens)
    result = run([record, chat(1, [Message("system", SYSTEM), Message("user", "Hi")])])
    first_system_cost = system_tokens * 0.075 / 1e6
    second_system_cost = system_tokens * 0.15 / 1e6
    assert result.overall["system"].cost_usd == pytest.approx(first_system_cost + second_system_cost, abs=1e-6)


def test_requests_without_prompt_text_are_unlogged() -> None:
    bare = RequestRecord(source_line=1, request_id="x", ts=START, model="gpt-4o-mini", provider="openai",
                         input_tokens=1000, output_tokens=10)
    result = run([bare])
    assert result.overall["unlogged"].tokens == 1000
    assert result.overall["overhead"].tokens == 0


@pytest.mark.parametrize("cores_available", [1, 2])
def test_the_report_part_beside_the_levers_is_the_attribution_computed_at_once(monkeypatch: pytest.MonkeyPatch,
                                                                              cores_available: int) -> None:
    """message_tokens() first (the levers), finish() later (the report): the same attribution and tokens as at once."""
    from llmaudit import cores
    from llmaudit.tokens import attribution as module

    records = [chat(i, [Message("system", SYSTEM[: 300 + 29 * i]), Message("user", f"<documents>{DOC}</documents>\nQ{i}")],
                    model="claude-sonnet-4-5", factor=1.1) for i in range(30)]
    builder = TableBuilder()
    for record in records:
        builder.add(record, "test", "t.jsonl")
    priced = compute_costs(builder.requests_frame(), PriceResolver(), None)
    reference, reference_tokens = attribute(priced, builder.messages_frame(), builder.texts_frame())
    monkeypatch.setattr(cores, "available", lambda: cores_available)
    pending = module.PendingAttribution(priced, builder.messages_frame(), builder.texts_frame())
    try:
        tokens = pending.message_tokens()
        assert pending._started is not None and pending._started[1].side_by_side == (cores_available >= 2)
        assert pending.message_tokens() is tokens  # computed once
        attribution, finished_tokens = pending.finish()
    finally:
        pending.cancel()
    assert finished_tokens is tokens and pending.message_tokens() is tokens
    assert tokens.equals(reference_tokens)
    assert attribution == reference


def test_cancel_after_the_tokens_waits_for_the_report_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmaudit import cores
    from llmaudit.tokens import attribution as module

    builder = TableBuilder()
    for i in range(5):
        builder.add(chat(i, [Message("system", SYSTEM), Message("user", f"Q{i}")]), "test", "t.jsonl")
    priced = compute_costs(builder.requests_frame(), PriceResolver(), None)
    monkeypatch.setattr(cores, "available", lambda: 2)
    pending = module.PendingAttribution(priced, builder.messages_frame(), builder.texts_frame())
    pending.message_tokens()
    assert pending._started is not None
    beside = pending._started[1]._pool
    assert beside is not None
    pending.cancel()
    assert beside._shutdown
