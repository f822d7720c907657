"""Semantic cache with planted truth: repeats, rewordings, unrelated queries, scopes, TTL, multi-turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import normalize

from llmaudit.analyses.interface import AnalysisContext, LeverConfig
from llmaudit.analyses.semantic_cache import DEFAULT_THRESHOLD, SemanticCacheLever
from llmaudit.analyses.semantic_eval import (
    LabelledPair,
    StreamScore,
    ThresholdScore,
    choose_threshold,
    evaluate,
    load_labelled_pairs,
)
from llmaudit.analyses.similarity import PrefixIndex, TfidfQueryEncoder, similar_pairs
from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.pricing.costs import compute_costs
from llmaudit.pricing.resolver import PriceResolver
from llmaudit.table import TableBuilder, shown_id
from llmaudit.tokens.attribution import MEDIA_KINDS, attribute

START = datetime(2025, 9, 1, 9, tzinfo=UTC)
SUPPORT = "You are Acme's support assistant. Answer in two sentences."
SALES = "You are Acme's sales assistant. Recommend one plan."
RESET = "How do I reset my password?"
RESET_ANSWER = "Open Settings, choose Security and click Reset password; we email you a link."
THRESHOLDS = (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)


def request(index: int, minutes: float, query: str, *, system: str = SUPPORT, model: str = "gpt-4o",
            answer: str | None = None, feature: str = "support", history: list[Message] | None = None,
            tools: list[str] | None = None, status: str = "ok") -> RequestRecord:
    # Distinct output token counts make every request's cost distinct, so a wrong hit shows in the sum.
    return RequestRecord(
        source_line=index, request_id=f"r{index:02d}", ts=START + timedelta(minutes=minutes), model=model,
        provider="openai", feature=feature, temperature=0.0, input_tokens=300, output_tokens=10 + index,
        status=status, messages=[Message("system", system), *(history or []), Message("user", query)],
        tools=tools or [], output_text=answer,
    )


def context_for(records: list[RequestRecord], **config: object) -> AnalysisContext:
    builder = TableBuilder()
    for record in records:
        builder.add(record, "test", "t.jsonl")
    priced = compute_costs(builder.requests_frame(), PriceResolver(), None)
    _, message_tokens = attribute(priced, builder.messages_frame(), builder.texts_frame())
    media = builder.messages_frame().filter(pl.col("kind").is_in(MEDIA_KINDS))
    return AnalysisContext(priced, message_tokens, builder.texts_frame().select("text_hash", "text"), 30.0,
                           LeverConfig(semantic_thresholds=THRESHOLDS, **config), media=media)  # type: ignore[arg-type]


def cost_of(context: AnalysisContext, *request_ids: str) -> float:
    shown = pl.Series([shown_id(key) for key in context.requests["logged_id"]])
    frame = context.requests.filter(shown.is_in(list(request_ids)))
    assert frame.height == len(request_ids)
    return float(frame["cost_usd"].sum())


PLANTED = [
    request(0, 0, RESET, answer=RESET_ANSWER),
    request(1, 5, RESET, answer=RESET_ANSWER),                           # repeat: 1.0
    request(2, 10, "how do I reset my PASSWORD?", answer=RESET_ANSWER),   # case only: 1.0, another text
    request(3, 15, "Can I change the delivery address of my order?", answer="Yes, until the parcel ships."),
    request(4, 20, "Can I change the delivery address for my order?",     # rewording: 0.80 <= cosine < 0.85
            answer="Our offices are closed on Sundays and public holidays."),  # ...whose answers differ
    request(5, 25, "What is the capital of France?", answer="Paris."),
    request(6, 30, "Which tariff applies to overnight shipping to Canada?"),
    request(7, 35, RESET, system=SALES, feature="sales"),                 # other system prompt: miss
    request(8, 40, RESET, model="gpt-4o-mini"),                           # other model: miss
    request(9, 45, RESET, tools=['{"name": "lookup_account"}']),          # other tools: miss
    request(10, 50, RESET, history=[Message("user", "Hi"), Message("assistant", "Hello!")]),  # multi-turn: not replayed
    request(11, 55, RESET, status="error"),                               # failed: not replayed
    request(12, 60 * 25, "What is the capital of France?"),               # 24 h 40 min after r05: expired, miss
    request(13, 60 * 25 + 1, "What is the capital of France?"),           # 1 min after r12: hit
]


def test_planted_hits_savings_and_sweep() -> None:
    context = context_for(PLANTED)
    result = SemanticCacheLever().run(context)
    sweep = {row["threshold"]: row for row in result.details["threshold_sweep"]}
    assert result.details["threshold"] == DEFAULT_THRESHOLD
    assert result.confidence == "estimated"
    assert result.details["replayed_requests"] == 12
    assert result.details["multi_turn_requests"] == 1
    assert result.details["scopes"] == 4
    exact_hits = ("r01", "r02", "r13")
    assert {t: row["hits"] for t, row in sweep.items()} == {
        0.8: 4, 0.85: 3, 0.9: 3, 0.93: 3, 0.95: 3, 0.97: 3, 0.99: 3}
    assert sweep[0.8]["savings_usd"] == pytest.approx(cost_of(context, *exact_hits, "r04"), abs=1e-9)
    assert sweep[0.99]["savings_usd"] == pytest.approx(cost_of(context, *exact_hits), abs=1e-9)
    assert result.affected_requests == 3
    assert result.savings_usd == pytest.approx(cost_of(context, *exact_hits), abs=1e-9)
    assert result.details["identical_query_hits"] == 2  # r01, r13; r02 differs in case
    assert sweep[0.8]["hit_rate"] == pytest.approx(4 / 12, abs=1e-6)
    # Answers logged on both sides: r01, r02 (same answer as r00) and r04 (differs from r03's); r13's are not.
    assert sweep[0.8]["answers_compared"] == 3
    assert sweep[0.8]["false_hit_risk"] == pytest.approx(1 / 3, abs=1e-6)
    assert sweep[0.99]["false_hit_risk"] == 0.0
    assert result.details["hits_without_both_answers"] == 1
    by_feature = {row["feature"]: row for row in result.details["by_feature"]}
    assert by_feature["support"]["hits"] == 3 and by_feature["sales"]["hits"] == 0


def test_configured_threshold_and_examples() -> None:
    result = SemanticCacheLever().run(context_for(PLANTED, semantic_threshold=0.8))
    assert result.affected_requests == 4
    assert "configuration" in result.details["threshold_reason"]
    pairs = {(e["query"], e["cached_query"]) for e in result.details["examples"]}
    assert pairs == {
        ("how do I reset my PASSWORD?", RESET),
        ("Can I change the delivery address for my order?", "Can I change the delivery address of my order?"),
    }
    reworded = next(e for e in result.details["examples"] if e["query"].startswith("Can I"))
    assert 0.8 <= reworded["cosine"] < 0.85
    assert reworded["answer_cosine"] < 0.5


def test_ttl_expiry_is_configurable_and_inclusive() -> None:
    records = [request(0, 0, RESET), request(1, 90, RESET)]
    assert SemanticCacheLever().run(context_for(records, semantic_cache_ttl_hours=1)).affected_requests == 0
    assert SemanticCacheLever().run(context_for(records, semantic_cache_ttl_hours=2)).affected_requests == 1
    assert SemanticCacheLever().run(context_for(records, semantic_cache_ttl_hours=1.5)).affected_requests == 1
    late = [request(0, 0, RESET), request(1, 90 + 1e-6, RESET)]  # 60 microseconds past the TTL
    assert SemanticCacheLever().run(context_for(late, semantic_cache_ttl_hours=1.5)).affected_requests == 0


def test_every_request_fills_the_cache() -> None:
    # r1 is itself a hit; r2 is 20 h after r1 but 40 h after r0: it hits on r1.
    records = [request(0, 0, RESET), request(1, 60 * 20, RESET), request(2, 60 * 40, RESET)]
    assert SemanticCacheLever().run(context_for(records)).affected_requests == 2


def test_retrieved_context_scopes_the_cache() -> None:
    manual = "<documents>" + "Refunds are paid to the original card within five business days. " * 30 + "</documents>\n"
    other = "<documents>" + "Returns need the parcel label and the order number from the email. " * 30 + "</documents>\n"
    records = [
        request(0, 0, manual + "How long do refunds take?"),
        request(1, 1, manual + "Can I get a refund in cash?"),   # same documents, another question: miss
        request(2, 2, other + "How long do refunds take?"),      # same question, other documents: miss
        request(3, 3, manual + "How long do refunds take?"),     # same question, same documents: hit
    ]
    result = SemanticCacheLever().run(context_for(records, semantic_threshold=0.8))
    assert result.affected_requests == 1
    assert {row["threshold"]: row["hits"] for row in result.details["threshold_sweep"]}[0.8] == 1
    assert result.details["scopes"] == 2


def test_skipped_without_stateless_requests() -> None:
    records = [request(0, 0, RESET, history=[Message("user", "Hi"), Message("assistant", "Hello!")])]
    result = SemanticCacheLever().run(context_for(records))
    assert result.skipped_reason is not None and "stateless" in result.skipped_reason


def brute_force_pairs(matrix: sp.csr_matrix, scope: np.ndarray, first: np.ndarray, last: np.ndarray,
                      threshold: float, horizon: float) -> set[tuple[int, int]]:
    dense = (matrix @ matrix.T).toarray()
    return {
        (i, j) for i, j in combinations(range(matrix.shape[0]), 2)
        if scope[i] == scope[j] and dense[i, j] >= threshold and last[i] >= first[j] - horizon
    }


def test_prefix_filtered_search_equals_brute_force() -> None:
    rng = np.random.default_rng(7)
    words = [f"w{k}" for k in range(40)]
    base = [" ".join(rng.choice(words, size=6)) for _ in range(150)]
    # Near-copies of earlier texts (one word dropped or swapped) so that many pairs sit near the thresholds.
    texts = base + [" ".join(t.split()[:-1] + [str(rng.choice(words))]) for t in base[:150]]
    matrix = TfidfQueryEncoder().encode(texts)
    scope = np.sort(rng.integers(0, 3, size=len(texts)))
    first = np.concatenate([np.sort(rng.uniform(0, 100, size=(scope == s).sum())) for s in range(3)])
    last = first + rng.uniform(0, 30, size=len(texts))
    starts = np.searchsorted(scope, np.arange(3))
    for threshold in (0.5, 0.8, 0.95):
        for horizon in (10.0, np.inf):
            found = similar_pairs(matrix, starts, first, last, threshold, horizon)
            assert set(zip(found.earlier.tolist(), found.later.tolist(), strict=True)) == brute_force_pairs(
                matrix, scope, first, last, threshold, horizon)
    assert PrefixIndex.build(matrix, 0.8).prefix.nnz < matrix.nnz
    found = similar_pairs(matrix, starts, first, last, 0.8)
    assert found.candidates < found.prefix_candidates  # the bound discards candidates before scoring


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), threshold=st.floats(0.05, 0.99), density=st.floats(0.02, 0.6))
def test_prefix_bound_is_never_below_the_true_cosine(seed: int, threshold: float, density: float) -> None:
    rng = np.random.default_rng(seed)
    # Skewed feature frequencies, as in text: a few common features, a long rare tail.
    columns = 60
    mask = rng.random((40, columns)) < density * np.linspace(1.5, 0.1, columns)
    weights = np.where(mask, rng.random((40, columns)), 0.0)
    matrix = normalize(sp.csr_matrix(weights, dtype=np.float32))
    index = PrefixIndex.build(matrix, threshold)
    left, right = (array.ravel() for array in np.triu_indices(40, k=1))
    prefix_dot = np.asarray((index.prefix @ index.prefix.T).toarray())[left, right]
    true = np.asarray((matrix @ matrix.T).toarray())[left, right]
    assert (index.upper_bound(left, right, prefix_dot) >= true - 1e-5).all()
    assert (index.upper_bound(right, left, prefix_dot) >= true - 1e-5).all()
    # The level bound alone (needed above every bound: nothing tightened) is an upper bound too, and looser.
    loose = index.upper_bound(left, right, prefix_dot, needed=np.inf)
    assert (loose >= true - 1e-5).all()
    assert (loose >= index.upper_bound(left, right, prefix_dot) - 1e-6).all()
    # The prefix filter's promise: a pair at the threshold shares a prefix feature.
    assert not ((true >= threshold + 1e-5) & (prefix_dot == 0) & (true > 0)).any()


def test_evaluation_on_a_small_labelled_sample() -> None:
    pairs = [
        LabelledPair("How do I reset my password?", "how do i reset my password", True, "quora"),
        LabelledPair("What is the best way to learn Python?", "What's the best way to learn Python?", True, "quora"),
        LabelledPair("Why is the sky blue?", "What makes the sky look blue to us?", True, "quora"),
        LabelledPair("How do I reset my password?", "Write a haiku about autumn leaves.", False, "mt_bench"),
        LabelledPair("Why is the sky blue?", "What is the best way to learn Python?", False, "quora_shuffled"),
    ]
    evaluation = evaluate(pairs, (0.5, 0.9))
    by_threshold = {s.threshold: s for s in evaluation.scores}
    assert (evaluation.positives, evaluation.negatives) == (3, 2)
    assert by_threshold[0.9].true_positives == 1 and by_threshold[0.9].false_positives == 0
    assert by_threshold[0.9].recall == pytest.approx(1 / 3, abs=1e-4)
    assert by_threshold[0.9].precision == 1.0
    assert by_threshold[0.5].true_positives == 2
    assert evaluation.match_rate_by_source["mt_bench"] == [0.0, 0.0]


def test_threshold_choice_needs_both_precisions() -> None:
    def labelled(t: float, precision: float) -> ThresholdScore:
        return ThresholdScore(t, 10, 0, 5, precision, 0.5, 0.6)

    scores = [labelled(0.8, 0.99), labelled(0.9, 0.99), labelled(0.95, 1.0)]
    stream = [StreamScore(0.8, 100, 80, 0.80), StreamScore(0.9, 50, 48, 0.96), StreamScore(0.95, 20, 20, 1.0)]
    assert choose_threshold(scores, stream)[0] == 0.9
    weak = [StreamScore(0.8, 100, 80, 0.80), StreamScore(0.9, 50, 45, 0.90), StreamScore(0.95, 20, 18, 0.90)]
    chosen, reason = choose_threshold(scores, weak)
    assert chosen == 0.95 and "no threshold" in reason


def test_pinned_default_is_what_the_labelled_data_choose(shared_data: Path) -> None:
    evaluation = evaluate(load_labelled_pairs(shared_data / "queries"), THRESHOLDS)
    assert evaluation.chosen_threshold == DEFAULT_THRESHOLD


def test_word_screen_finds_the_same_pairs_as_the_full_search() -> None:
    """The word-part screen is lossless: the pairs equal those of the unscreened search."""
    from llmaudit.analyses.semantic_cache import _with_wordless_marker

    texts = ["how do I reset my password", "how do i reset my password?", "How to reset my password",
             "reset password", "where is my parcel", "where's my parcel", "???", "?!?", "refund policy for shoes",
             "what is the refund policy for shoes", "cancel my subscription", "cancel subscription please", "", ""]
    vectors, words = TfidfQueryEncoder().encode_parts(texts)
    blank = np.array([not text for text in texts])
    starts = np.array([0])
    seen = np.arange(len(texts), dtype=float)
    for threshold in (0.8, 0.9):
        full = similar_pairs(vectors, starts, seen, seen, threshold)
        screened = similar_pairs(vectors, starts, seen, seen, threshold, screen=_with_wordless_marker(words, blank),
                                 screen_threshold=2 * threshold - 1)
        assert sorted(zip(full.earlier, full.later, strict=True)) == sorted(zip(screened.earlier, screened.later, strict=True))
        assert len(full.earlier) > 0
        marked_blanks = similar_pairs(vectors, starts, seen, seen, threshold, screen=_with_wordless_marker(words),
                                      screen_threshold=2 * threshold - 1)
        # Marked, the 2 blank texts pair with each other and with the 2 word-less texts: 5 needless candidates.
        assert screened.candidates == marked_blanks.candidates - 5


def test_the_users_context_markers_take_the_documents_out_of_the_question() -> None:
    import re

    from llmaudit.analyses.prompt_view import split_query

    doc = " ".join(f"Section {n}: refunds are issued within {n} days of a return being received." for n in range(20))
    first = f"%%KB%% {doc} %%END%%\nHow do I reset my password?"
    second = f"%%KB%% {doc} %%END%%\nhow do I reset my password"
    markers = (re.compile(r"%%KB%%.*?%%END%%", re.DOTALL),)
    question, context_key = split_query(first, markers)
    assert question == "How do I reset my password?" and context_key
    assert split_query(second, markers)[1] == context_key  # the same documents: the same scope
    assert doc in split_query(first)[0]  # unmarked, the documents stay in the question
    # Unmarked, each question is a 1,500-character document (matched only when identical); marked, two
    # near-identical questions about the same documents.
    records = [request(0, 0, first, answer=RESET_ANSWER), request(1, 5, second, answer=RESET_ANSWER)]
    plain = SemanticCacheLever().run(context_for(records))
    marked_context = context_for(records)
    marked = SemanticCacheLever().run(AnalysisContext(
        marked_context.requests, marked_context.messages, marked_context.texts, marked_context.window_days,
        marked_context.config, markers))

    def hits_at_lowest(result: object) -> int:
        return next(row["hits"] for row in result.details["threshold_sweep"] if row["threshold"] == 0.8)  # type: ignore[attr-defined]

    assert hits_at_lowest(plain) == 0
    assert hits_at_lowest(marked) == 1


def test_questions_about_images_are_not_semantic_hits() -> None:
    """The same words about two photos ask about two things: requests with media are left out."""
    import dataclasses

    context = context_for([request(i, i, "What is the total on this receipt?") for i in range(3)]
                          + [request(10 + i, 10 + i, RESET) for i in range(2)])
    assert SemanticCacheLever().run(context).affected_requests == 3  # without their images: 2 + 1 hits
    photos = context.requests.head(3).select("request_id", seq=pl.lit(2, pl.Int32), role=pl.lit("user"),
                                             kind=pl.lit("image"), component=pl.lit("query"),
                                             text_hash=pl.Series([f"{i:032x}" for i in range(3)]))
    result = SemanticCacheLever().run(dataclasses.replace(context, media=photos))
    assert result.affected_requests == 1  # the repeated password question alone
    assert "no image, audio or file" in result.assumptions[0]
