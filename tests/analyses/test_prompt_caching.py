"""Provider prompt caching with planted truth: exact cached tokens, write premiums, volatile spans and their fixes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from llmaudit import provider_rules
from llmaudit.analyses.interface import AnalysisContext, LeverConfig, LeverResult
from llmaudit.analyses.prompt_caching import PromptCachingLever, cache_family
from llmaudit.analyses.registry import LEVER_CLASSES
from llmaudit.analyses.volatile_prefix import span_kind
from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.pricing.costs import compute_costs
from llmaudit.pricing.overrides import PriceOverride
from llmaudit.pricing.resolver import PriceResolver
from llmaudit.table import REQUEST_NUMBER, TableBuilder
from llmaudit.tokens.attribution import attribute
from llmaudit.tokens.encodings import load_encoding

START = datetime(2025, 9, 1, 10, tzinfo=UTC)
# gpt-4o-mini: $0.15 input, $0.075 cached; claude-sonnet-4-5: $3 input, $3.75 5m write, $6 1h write, $0.30 read.
MINI_SAVED_PER_TOKEN = (0.15 - 0.075) / 1e6


def count(text: str) -> int:
    return len(load_encoding("o200k_base").encode_ordinary(text))


def rules_text(topic: str, n: int) -> str:
    return " ".join(f"Rule {i} for {topic}: check the order number, quote policy section {i * 7 % 13}, and never"
                    f" promise a refund before step {i % 5} is done." for i in range(n))


SYSTEM_2K = rules_text("support", 68)
SYSTEM_600 = rules_text("short", 20)
BODY_3K = rules_text("assistant", 102)
SYSTEM_1500 = rules_text("claude", 51)


def record(index: int, minute: float, messages: list[Message], model: str = "gpt-4o-mini", feature: str = "support",
           tools: list[str] | None = None, cached: int = 0, api_key: str | None = "key-a",
           provider: str | None = None) -> RequestRecord:
    tools = tools or []
    reported = sum(count(m.text) for m in messages) + sum(count(t) for t in tools) + 3 * len(messages) + 3
    return RequestRecord(
        source_line=index, request_id=f"r{index}", ts=START + timedelta(minutes=minute), model=model,
        provider=provider or ("anthropic" if "claude" in model else "openai"), input_tokens=reported, cache_read_tokens=cached,
        output_tokens=50, feature=feature, api_key=api_key, messages=messages, tools=tools,
    )


def context_of(records: list[RequestRecord], window_days: float = 30.0, config: LeverConfig | None = None,
               prices: PriceResolver | None = None) -> AnalysisContext:
    builder = TableBuilder()
    for rec in records:
        builder.add(rec, "test", "t.jsonl")
    priced = compute_costs(builder.requests_frame(), prices or PriceResolver(), None)
    _, message_tokens = attribute(priced, builder.messages_frame(), builder.texts_frame())
    return AnalysisContext(priced, message_tokens, builder.texts_frame().select("text_hash", "text"), window_days,
                           config or LeverConfig())


def run(records: list[RequestRecord], **kwargs: object) -> tuple[LeverResult, AnalysisContext]:
    context = context_of(records, **kwargs)  # type: ignore[arg-type]
    return PromptCachingLever().run(context), context


def model_row(result: LeverResult, model: str) -> dict:
    return next(r for r in result.details["by_model"] if r["model"] == model)


def floor128(tokens: int) -> int:
    return tokens // 128 * 128


def test_openai_prefix_hits_within_retention_rounded_to_128() -> None:
    system = count(SYSTEM_2K)
    assert 1900 < system < 2300
    minutes = [0, 2, 4, 30, 33]  # 30 is 26 min after the last use: a miss (retention 5 min); 33 hits again
    records = [record(i, m, [Message("system", SYSTEM_2K), Message("user", f"Question {i}: where is parcel {i}?")])
               for i, m in enumerate(minutes)]
    # A 600-token system prompt never reaches OpenAI's 1,024-token minimum.
    records += [record(10 + i, i, [Message("system", SYSTEM_600), Message("user", f"Short {i}?")], feature="short")
                for i in range(3)]
    result, _ = run(records)
    row = model_row(result, "gpt-4o-mini")
    assert row["achievable_cached_tokens"] == 3 * floor128(system)
    assert row["reported_cached_tokens"] == 0
    expected = 3 * floor128(system) * MINI_SAVED_PER_TOKEN
    assert result.savings_usd == round(expected, 6)
    assert result.monthly_savings_usd == round(expected, 6)  # not rounded to cents: small savings stay visible
    assert result.affected_requests == 3
    assert result.confidence == "estimated"
    short = next(r for r in result.details["by_feature"] if r["feature"] == "short")
    assert short["achievable_cached_tokens"] == 0 and short["gap_usd"] == 0
    support = next(r for r in result.details["by_feature"] if r["feature"] == "support")
    assert support["gap_tokens"] == 3 * floor128(system)
    assert support["gap_usd"] == round(expected, 6)


def test_api_keys_are_separate_cache_scopes() -> None:
    records = [record(i, i, [Message("system", SYSTEM_2K), Message("user", f"Q{i}")], api_key=f"key-{i}")
               for i in range(3)]
    result, _ = run(records)
    assert model_row(result, "gpt-4o-mini")["achievable_cached_tokens"] == 0
    assert result.savings_usd == 0


def test_gpt_5_6_bills_cache_writes_and_keeps_entries_30_minutes() -> None:
    # GPT-5.6+: writes at 1.25x input, reads at 0.1x, entries alive 30 min after last use ([PCb]).
    prices = PriceResolver({"gpt-5.6": PriceOverride("gpt-5.6", "openai", input_mtok=1.0, output_mtok=8.0,
                                                     cache_read_mtok=0.1, cache_write_mtok=1.25)})
    records = [record(i, 20 * i, [Message("system", SYSTEM_2K), Message("user", f"Question {i}")], model="gpt-5.6")
               for i in range(3)]
    result, _ = run(records, prices=prices)
    row = model_row(result, "gpt-5.6")
    system = count(SYSTEM_2K)
    totals = [system + count(f"Question {i}") for i in range(3)]
    reads = [0, floor128(system), floor128(system)]  # 20 min apart: alive under the 30-min TTL
    writes = [floor128(t) - r for t, r in zip(totals, reads, strict=True)]
    assert (row["achievable_cached_tokens"], row["achievable_cache_write_tokens"]) == (sum(reads), sum(writes))
    inputs = [r.input_tokens or 0 for r in records]
    simulated = sum((i - r - w) * 1.0 + r * 0.1 + w * 1.25 for i, r, w in zip(inputs, reads, writes, strict=True)) / 1e6
    assert row["achievable_input_cost_usd"] == round(simulated, 6)
    assert result.savings_usd == round(sum(inputs) / 1e6 - simulated, 6)


def test_anthropic_write_premium_and_minimum_exact_cost() -> None:
    system = count(SYSTEM_1500)
    assert provider_rules.anthropic_cache_min_tokens("claude-sonnet-4-5") <= system
    assert provider_rules.anthropic_cache_min_tokens("claude-haiku-4-5") > system
    records = [record(i, 2 * i, [Message("system", SYSTEM_1500), Message("user", f"Question {i} " + "why? " * i)],
                      model="claude-sonnet-4-5", feature="claude") for i in range(3)]
    records += [record(10 + i, 2 * i, [Message("system", SYSTEM_1500), Message("user", f"Q {i} " + "how? " * i)],
                       model="claude-haiku-4-5", feature="haiku") for i in range(3)]
    result, _ = run(records)
    sonnet = model_row(result, "claude-sonnet-4-5")
    # Breakpoint after the system prompt: written once at 1.25x ($3.75), read twice at 0.1x ($0.30); queries uncached.
    assert sonnet["achievable_cached_tokens"] == 2 * system
    assert sonnet["achievable_cache_write_tokens"] == system
    assert sonnet["placement"] == "breakpoints after tools and system"
    saved = system * (3 * 3.0 - 3.75 - 2 * 0.30) / 1e6
    assert sonnet["gap_usd"] == pytest.approx(saved, abs=1e-6)
    haiku = model_row(result, "claude-haiku-4-5")  # 1,500 tokens < Haiku 4.5's 4,096 minimum
    assert haiku["achievable_cached_tokens"] == 0 and haiku["gap_usd"] == 0
    assert result.savings_usd == pytest.approx(saved, abs=1e-6)


def test_anthropic_one_hour_ttl_writes_at_twice_the_input_price() -> None:
    system = count(SYSTEM_1500)
    records = [record(i, 20 * i, [Message("system", SYSTEM_1500), Message("user", f"Question {i}")],
                      model="claude-sonnet-4-5", feature="claude") for i in range(3)]
    five_minutes, _ = run(records)
    assert five_minutes.savings_usd == 0  # 20 min apart: every 5m entry expired; writing would only cost more
    assert model_row(five_minutes, "claude-sonnet-4-5")["placement"] == "no breakpoints"
    one_hour, _ = run(records, config=LeverConfig(anthropic_cache_ttl="1h"))
    row = model_row(one_hour, "claude-sonnet-4-5")
    assert row["achievable_cache_write_tokens"] == system
    assert one_hour.savings_usd == pytest.approx(system * (3 * 3.0 - 6.0 - 2 * 0.30) / 1e6, rel=1e-6)


def test_gemini_implicit_caching_from_the_model_minimum() -> None:
    # gemini-2.5-flash: minimum 2,048 (newest doc); $0.30 input, $0.03 cached. A 3k-token system prompt is shared.
    system = count(BODY_3K)
    records = [record(i, i, [Message("system", BODY_3K), Message("user", f"Question {i} " + "what? " * i)],
                      model="gemini-2.5-flash", provider="google", feature="gem") for i in range(4)]
    records += [record(10 + i, i, [Message("system", SYSTEM_1500), Message("user", f"Q {i} " + "hm? " * i)],
                       model="gemini-2.5-flash", provider="google", feature="small") for i in range(3)]
    records += [record(20 + i, i, [Message("system", BODY_3K), Message("user", f"Q {i}")],
                       model="gemini-2.0-flash", provider="google", feature="old") for i in range(2)]
    result, _ = run(records)
    row = model_row(result, "gemini-2.5-flash")
    assert row["achievable_cached_tokens"] == pytest.approx(3 * system, abs=3)
    assert result.savings_usd == pytest.approx(3 * system * (0.30 - 0.03) / 1e6, abs=2e-6)
    small = next(r for r in result.details["by_feature"] if r["feature"] == "small")
    assert small["achievable_cached_tokens"] == 0  # 1,500 tokens < 2,048
    # Gemini 2.0 has no implicit caching: not replayed, and said so.
    assert result.details["skipped_requests"] == {"provider or model without simulated caching rules": 2}


def test_volatile_timestamp_is_found_marked_and_its_fix_priced() -> None:
    records = [record(i, 2 * i, [Message("system", f"Current time: 2025-09-01T10:{2 * i:02d}:00Z\n{BODY_3K}"),
                                 Message("user", f"Task {i}: summarise ticket {1000 + i}.")], feature="assistant")
               for i in range(6)]
    result, context = run(records)
    assert result.savings_usd == 0  # every system prompt differs from its first line on: nothing to cache today
    [finding] = result.details["volatile_prefixes"]
    assert finding["kind"] == "system_prompt_span"
    assert (finding["feature"], finding["model"], finding["requests"], finding["variants"]) == ("assistant", "gpt-4o-mini", 6, 6)
    assert finding["span_kind"] == "ISO timestamp"
    assert re.match(r"Current time: «2025-09-01T10:\d\d:00Z»\nRule 0 for assistant", finding["template"])
    assert all(re.fullmatch(r"2025-09-01T10:\d\d:00Z", s) for s in finding["varying_span_examples"])
    static = count("Current time: \n" + BODY_3K)
    assert finding["static_tokens"] == static
    # Moved after the static part, the static ~3k tokens are a shared prefix: 5 hits after the first request.
    expected = 5 * floor128(static) * MINI_SAVED_PER_TOKEN
    assert finding["savings_usd"] == round(expected, 6)
    assert finding["monthly_savings_usd"] == context.monthly(expected)
    assert finding["fix"].startswith("move the varying ISO timestamp out of the system prompt, after all static")
    assert result.details["savings_with_fixes_usd"] == round(expected, 6)


def test_span_at_the_end_is_already_shared_by_openai() -> None:
    records = [record(i, i, [Message("system", f"{BODY_3K}\nUser: {name}"), Message("user", f"Hi {i}")], feature="bot")
               for i, name in enumerate(["Alice", "Bob", "Carol", "Dave"])]
    result, _ = run(records)
    prefix = count(BODY_3K + "\nUser: ")
    # OpenAI matches tokens, not messages: the text before the name is shared already.
    assert model_row(result, "gpt-4o-mini")["achievable_cached_tokens"] == 3 * floor128(prefix)
    assert result.details["volatile_prefixes"] == []  # moving a trailing span gains nothing on OpenAI


def test_volatile_span_in_anthropic_system_prompt_needs_a_breakpoint_before_it() -> None:
    records = [record(i, i, [Message("system", f"{SYSTEM_1500}\nUser: {name}"), Message("user", f"Hi {i}")],
                      model="claude-sonnet-4-5", feature="bot") for i, name in enumerate(["Alice", "Bob", "Carol", "Dave"])]
    result, _ = run(records)
    assert result.savings_usd == 0
    [finding] = result.details["volatile_prefixes"]
    assert finding["span_kind"] == "name"
    assert finding["template"].endswith("\nUser: «" + finding["varying_span_examples"][0] + "»")
    static = finding["static_tokens"]
    assert static == pytest.approx(count(SYSTEM_1500 + "\nUser: "), abs=1)
    assert finding["savings_usd"] == pytest.approx(static * (4 * 3.0 - 3.75 - 3 * 0.30) / 1e6, rel=1e-3)


def tool(name: str) -> str:
    props = ", ".join(f'"{name}_field_{i}": {{"type": "string", "description": "Field {i} of the {name} call"}}'
                      for i in range(40))
    return f'{{"type": "function", "name": "{name}", "parameters": {{"type": "object", "properties": {{{props}}}}}}}'


def test_shuffled_tool_order_is_found_and_a_stable_order_priced() -> None:
    tools = {name: tool(name) for name in ("search", "refund", "lookup")}
    orders = [["search", "refund", "lookup"], ["refund", "lookup", "search"], ["lookup", "search", "refund"]] * 2
    system = "You are an agent. Use the tools."
    records = [record(i, i, [Message("system", system), Message("user", f"Do task {i}")], feature="agent",
                      tools=[tools[n] for n in order]) for i, order in enumerate(orders)]
    result, _ = run(records)
    prefix = sum(count(t) for t in tools.values()) + count(system)
    assert prefix > 1024
    # Today only the repeat of the same order hits (requests 3, 4, 5); sorted, all 5 after the first do.
    assert model_row(result, "gpt-4o-mini")["achievable_cached_tokens"] == 3 * floor128(prefix)
    [finding] = result.details["volatile_prefixes"]
    assert finding["kind"] == "tool_order" and finding["variants"] == 3 and finding["requests"] == 6
    assert finding["varying_span_examples"][0] == "search, refund, lookup"
    assert finding["savings_usd"] == round(2 * floor128(prefix) * MINI_SAVED_PER_TOKEN, 6)


def test_static_document_after_a_varying_first_message_is_moved_first() -> None:
    doc = rules_text("handbook", 51)
    names = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"]
    records = [record(i, i, [Message("system", f"You help {name} (account {4000 + 17 * i})."), Message("user", doc),
                             Message("user", f"Question {i} from {name}")], feature="personal")
               for i, name in enumerate(names)]
    result, _ = run(records)
    assert result.savings_usd == 0
    [reorder] = result.details["reorder"]
    assert reorder["feature"] == "personal" and reorder["requests"] == 6 and reorder["tokens"] == count(doc)
    assert reorder["first_part_varies_share"] == 1.0
    assert reorder["savings_usd"] == round(5 * floor128(count(doc)) * MINI_SAVED_PER_TOKEN, 6)
    assert "before the per-request system part" in reorder["fix"]


def test_logs_that_already_cache_better_save_nothing() -> None:
    system = count(SYSTEM_2K)
    records = [record(i, 10 * i, [Message("system", SYSTEM_2K), Message("user", f"Q{i}")], cached=floor128(system))
               for i in range(3)]
    result, _ = run(records)
    row = model_row(result, "gpt-4o-mini")
    assert row["reported_cached_tokens"] == 3 * floor128(system)
    assert row["achievable_cached_tokens"] == 0
    assert row["already_caches_well"] and row["gap_usd"] == 0
    assert result.savings_usd == 0 and result.affected_requests == 0
    assert any("already caching" in a for a in result.assumptions)


def test_requests_that_cannot_be_replayed_are_counted() -> None:
    records = [record(i, i, [Message("system", SYSTEM_2K), Message("user", f"Q{i}")]) for i in range(2)]
    records.append(RequestRecord(source_line=90, request_id="bare", ts=START, model="gpt-4o-mini", provider="openai",
                                 input_tokens=2000, output_tokens=10))
    records.append(RequestRecord(source_line=91, request_id="agg", ts=START, model="gpt-4o-mini", provider="openai",
                                 input_tokens=9000, output_tokens=100, is_aggregate=True, request_count=7))
    records.append(record(92, 1, [Message("user", "Hello")], model="mistral-large-latest"))
    records[-1].provider = "mistral"
    result, _ = run(records)
    assert result.details["replayed_requests"] == 2
    skipped = result.details["skipped_requests"]
    assert skipped["no prompt text logged"] == 1
    assert skipped["aggregate rows without prompt text"] == 7
    assert sum(skipped.values()) == 9


def test_nothing_replayable_is_a_plain_skip() -> None:
    bare = RequestRecord(source_line=1, request_id="x", ts=START, model="gpt-4o-mini", provider="openai",
                         input_tokens=1000, output_tokens=10)
    result, _ = run([bare])
    assert result.skipped_reason is not None and "no prompt text logged" in result.skipped_reason


def test_registered() -> None:
    assert PromptCachingLever in LEVER_CLASSES


@pytest.mark.parametrize(("examples", "kind"), [
    (["2025-09-01T10:00:00Z", "2025-09-01T10:02:00Z"], "ISO timestamp"),
    (["2025-09-01", "2025-09-02"], "date"),
    (["Monday", "Tuesday"], "date"),
    (["3f2a9c1e-1b2c-4d5e-8f90-123456789abc"], "UUID"),
    (["a91f33c0de", "b7720e11aa"], "hex id"),
    (["4411", "4412"], "number"),
    (["Alice", "Bob Smith"], "name"),
    (["ord_12ab", "ord_99zz"], "identifier"),
])
def test_span_kinds(examples: list[str], kind: str) -> None:
    assert span_kind(examples) == kind


@pytest.mark.parametrize(("provider", "model", "family"), [
    ("openai", "gpt-4o-mini", "openai"), ("azure", "my-deployment", "openai"), ("anthropic", "claude-sonnet-4-5", "anthropic"),
    ("aws", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic"), ("google", "gemini-2.5-flash", "gemini"),
    ("google", "gemini-2.0-flash", None), ("mistral", "mistral-large-latest", None),
])
def test_cache_family(provider: str, model: str, family: str | None) -> None:
    assert cache_family(provider, model) == family


def synthetic_context(n: int) -> AnalysisContext:
    """n requests over 4 features and 2 models, built as frames directly (the lever's cost, not ingestion's)."""
    ids = list(range(n))
    feature = [f"f{i % 4}" for i in range(n)]
    model = ["gpt-4o-mini" if i % 3 else "claude-sonnet-4-5" for i in range(n)]
    requests = pl.DataFrame({
        "request_id": pl.Series(ids, dtype=REQUEST_NUMBER), "logged_id": [f"q{i}" for i in ids], "provider": ["anthropic" if m.startswith("claude") else "openai" for m in model],
        "model": model, "api_key": [f"k{i % 2}" for i in range(n)], "feature": feature,
        "ts": [START + timedelta(seconds=3 * i) for i in range(n)], "status": ["ok"] * n, "is_aggregate": [False] * n,
        "request_count": [1] * n, "is_batch": [False] * n, "input_tokens": [3000] * n, "cache_read_tokens": [0] * n,
        "cache_write_tokens": [0] * n, "cost_input_usd": [3000 * 0.15 / 1e6] * n, "cost_usd": [3000 * 0.15 / 1e6] * n,
        "unit_input": [0.15] * n,
        "unit_cache_read": [0.075] * n, "unit_cache_write": [0.1875] * n, "unit_cache_write_1h": [0.3] * n,
    })
    systems = [f"sys-{i % 4}-{i // 500 if i % 4 == 0 else 0}" for i in range(n)]
    messages = pl.DataFrame({
        "request_id": pl.Series(ids * 3, dtype=REQUEST_NUMBER), "seq": [0] * n + [1] * n + [2] * n, "role": ["system"] * n + ["user"] * (2 * n),
        "kind": ["text"] * (3 * n), "component": ["system"] * n + ["history"] * n + ["query"] * n,
        "text_hash": systems + [f"h-{i % 50}" for i in range(n)] + [f"q-{i}" for i in range(n)],
        "tokens": [2000.0] * n + [800.0] * n + [150.0] * n,
    }, schema_overrides={"seq": pl.Int32})
    hashes = messages.get_column("text_hash").unique()
    texts = pl.DataFrame({"text_hash": hashes, "text": [f"text {h} " * 20 for h in hashes.to_list()]})
    return AnalysisContext(requests, messages, texts, 7.0)


def test_one_hundred_thousand_requests_are_all_replayed() -> None:
    """Scale, not speed (timings live in bench/): every request of a large frame is replayed and saves."""
    result = PromptCachingLever().run(synthetic_context(100_000))
    assert result.details["replayed_requests"] == 100_000
    assert result.savings_usd > 0


def test_savings_with_fixes_replays_only_the_models_the_fixes_touch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The partial replay equals replaying everything with every fix applied (the reference, as first written)."""
    from llmaudit.analyses import prompt_caching as pc

    records = [record(i, 2 * i, [Message("system", f"Current time: 2025-09-01T10:{2 * i:02d}:00Z\n{BODY_3K}"),
                                 Message("user", f"Task {i}")], feature="assistant") for i in range(6)]
    records += [record(10 + i, 2 * i + 1, [Message("system", SYSTEM_2K), Message("user", f"Help {i}")], feature="support")
                for i in range(5)]  # same model as the fix, another feature: today's hits
    records += [record(20 + i, i, [Message("system", f"{SYSTEM_1500}\nUser: {name}"), Message("user", f"Hi {i}")],
                       model="claude-sonnet-4-5", feature="bot") for i, name in enumerate(["Alice", "Bob", "Carol", "Dave"])]
    records += [record(30 + i, 3 * i, [Message("system", SYSTEM_2K), Message("user", f"Other {i}")], model="gpt-4o",
                       feature="other") for i in range(4)]  # a model no fix touches
    seen: list[tuple[set[str], float]] = []
    inputs: list[tuple[list, pl.DataFrame, pl.DataFrame, pl.DataFrame]] = []
    gaps_after, partial = pc._gaps_after, pc._savings_after

    def kept(fixes: list, parts: pl.DataFrame, rules: pl.DataFrame, logged: pl.DataFrame) -> dict:
        inputs.append((fixes, parts, rules, logged))
        return gaps_after(fixes, parts, rules, logged)

    def checked(gaps: dict, by_model: list) -> float:
        got = partial(gaps, by_model)
        [(fixes, parts, rules, logged)] = inputs
        for fix in fixes:
            parts = fix.rewrite(parts)
        everything = rules.join(pc.simulate(parts, rules), on="request_id", how="inner").join(logged, on="request_id", how="left")
        reference = sum(float(r["gap_usd"]) for r in pc._rows(everything, ["family", "model"]))
        assert got == pytest.approx(reference, abs=1e-9)
        seen.append(({fix.model for fix in fixes}, got))
        return got

    monkeypatch.setattr(pc, "_gaps_after", kept)
    monkeypatch.setattr(pc, "_savings_after", checked)
    result, _ = run(records)
    [(models, savings)] = seen
    assert models == {"gpt-4o-mini", "claude-sonnet-4-5"}
    assert model_row(result, "gpt-4o")["gap_usd"] > 0  # the untouched model saves today, and its row is reused
    assert result.details["savings_with_fixes_usd"] == round(savings, 6) > result.savings_usd
