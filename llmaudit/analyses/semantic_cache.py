"""Semantic response cache: a stateless request answered with the stored answer to a similar query.

Only stateless requests (no earlier turns) that carry a query text are replayed, and the cache
is scoped by model, system prompt, tool definitions, the settings that change the answer
(`RequestRecord.output_params`) and the retrieved context inside the query:
the same question under another system prompt, or about other documents, is a different
request. Each question (the query without its context blocks) is vectorised
(`similarity.QueryEncoder`, TF-IDF of word and character n-grams by default) and compared with
the earlier questions of its scope still inside the TTL; every request fills the cache. A request
is a hit at threshold t when its most similar earlier question reaches t, so one replay gives the
whole threshold sweep. An identical question is similarity 1.0, a hit at every threshold.

A hit serves another request's answer, so every figure is an estimate: each threshold's
false-hit risk is the share of its hits whose two logged answers differ materially.
"""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import polars as pl
import scipy.sparse as sp

from llmaudit.analyses.exact_cache import answered
from llmaudit.analyses.interface import AnalysisContext, Lever, LeverResult
from llmaudit.analyses.prompt_view import query_texts, system_keys, turn_counts
from llmaudit.analyses.similarity import QueryEncoder, TfidfQueryEncoder, rowwise_cosine, similar_pairs
from llmaudit.redaction import redact_text
from llmaudit.spill import release_pages, strings_at
from llmaudit.sums import exact_sum, series_sum

DEFAULT_THRESHOLD = 0.93
# Measured by semantic_eval.evaluate on ../shared/data/queries (bench/semantic_cache.py prints the table):
# the lowest sweep threshold whose precision is >= 0.95 both on the labelled pairs (1.000: no false match
# among 34,283 clear negatives; recall 0.023 of 31,140 Quora/GPTCache positives) and as a lower bound over
# the 46,801 labelled texts replayed as one stream (0.951: 872 of 917 matches are known duplicates).
# At 0.90 that bound is 0.941, at 0.80 0.887. tests/analyses/test_semantic_cache.py re-derives it.
DEFAULT_THRESHOLD_REASON = (
    "default: the lowest threshold with precision >= 0.95 on labelled paraphrase data: 1.000 on 31,140"
    " Quora/GPTCache duplicate pairs against 34,283 clear negatives, and >= 0.951 over the labelled texts"
    " replayed as one stream, where near-neighbour false hits appear (>= 0.941 at 0.90, >= 0.887 at 0.80);"
    " recall there is 2.3%: this matcher catches rewordings that keep most of the words"
)
MATERIAL_DIFFERENCE = 0.5
"""Two answers differ materially when their TF-IDF cosine is below this."""
ANSWER_CHARS = 2_000
"""Answers are compared on their opening characters: a different answer differs early."""
ANSWER_ENCODER = TfidfQueryEncoder(char_ngrams=None, name="tfidf(word 1-2, sublinear tf)")
"""Answers are long: word n-grams only, character n-grams would cost too much."""
TOP_EXAMPLES = 10
EXCERPT_CHARS = 120

SCREEN_MIN_THRESHOLD = 0.75
"""Above 1/sqrt(2): the word-part screen is lossless from here up (see _with_wordless_marker)."""
SCOPE_SEED = 17
"""Fixed: the same scopes, in the same order, in every run."""
MAX_SEMANTIC_CHARS = 1_000
"""Questions longer than this are matched only when identical (see _replay)."""


class SemanticCacheLever(Lever):
    name = "semantic_cache"
    title = "Semantic response cache"
    needs_tokens = False

    def __init__(self, encoder: QueryEncoder | None = None) -> None:
        self.encoder = encoder or TfidfQueryEncoder()

    def run(self, context: AnalysisContext) -> LeverResult:
        config = context.config
        requests = context.requests.filter(
            (pl.col("status") == "ok") & ~pl.col("is_aggregate") & pl.col("ts").is_not_null()
            & pl.col("cost_usd").is_not_null()
        ).select("request_id", "ts", "model", "tools_hash", "output_params", "feature", "cost_usd", "output_hash")
        if context.media is not None and context.media.height:
            # A question about an image, a recording or a file: the text alone says nothing of what is asked about.
            requests = requests.join(context.media.select("request_id").unique(), on="request_id", how="anti")
        with_text = requests.join(turn_counts(context.messages), on="request_id", how="inner")
        if with_text.height == 0:
            return self.skipped(context, "no request in these logs carries its prompt text")
        stateless = (
            with_text.filter(pl.col("history_count") == 0)
            .join(query_texts(context.messages, context.texts, context.context_patterns), on="request_id", how="inner")
            .filter(pl.col("query_start").is_not_null())
            .join(system_keys(context.messages), on="request_id", how="left")
            .select("request_id", "ts", "model", "system_key", "tools_hash", "output_params", "feature", "cost_usd",
                    "output_hash",
                    "query_hash", "question", "context_key")
        )
        release_pages()  # the query texts are split and copied: their pages can go before the vectors are built
        if stateless.height == 0:
            return self.skipped(context, "no stateless request (one turn, with a user query) in these logs")
        threshold = config.semantic_threshold if config.semantic_threshold is not None else DEFAULT_THRESHOLD
        thresholds = sorted({*config.semantic_thresholds, threshold})
        ttl = timedelta(hours=config.semantic_cache_ttl_hours)
        replayed = self._replay(stateless, thresholds[0], ttl)
        replayed = _with_answer_similarity(replayed, context.texts)
        hits = replayed.filter(pl.col("cosine") >= threshold)
        saved = series_sum(hits.get_column("cost_usd"))
        sweep = [_sweep_row(replayed, t, context) for t in thresholds]
        chosen = next(row for row in sweep if row["threshold"] == threshold)
        unlogged = hits.filter(pl.col("answer_cosine").is_null()).height
        return LeverResult(
            name=self.name,
            title=self.title,
            savings_usd=round(saved, 6),
            monthly_savings_usd=context.monthly(saved),
            affected_requests=hits.height,
            confidence="estimated",
            assumptions=[
                f"only stateless requests (no earlier turns) with a user query and no image, audio or file are"
                f" cached ({replayed.height} of"
                f" {context.requests.height}); the cache is scoped by model, system prompt, tool definitions, retrieved context and the"
                f" settings that change the answer (response format, stop sequences...)",
                f"a request is a hit when an earlier request of its scope within {config.semantic_cache_ttl_hours:g} h"
                f" has a question (the query without context blocks) with cosine >= {threshold:g} ({self.encoder.name}); every request fills the cache",
                "a hit costs nothing and its cached answer is assumed acceptable; cache storage, vectorising and"
                " lookup costs are not counted",
                f"answers differ materially when the word TF-IDF cosine of their first {ANSWER_CHARS:,} characters is"
                f" below {MATERIAL_DIFFERENCE:g}; {chosen['answers_compared']} of the {hits.height} hits at"
                f" {threshold:g} had both answers logged",
                "identical questions count as similarity 1.0, so this lever includes most exact-cache hits:"
                " do not add the two",
                f"questions longer than {MAX_SEMANTIC_CHARS:,} characters (pasted documents, not FAQ questions)"
                " match only when identical",
            ],
            details={
                "encoder": self.encoder.name,
                "ttl_hours": config.semantic_cache_ttl_hours,
                "replayed_requests": replayed.height,
                "not_replayed_requests": context.requests.height - replayed.height,
                "multi_turn_requests": with_text.filter(pl.col("history_count") > 0).height,
                "scopes": replayed.get_column("scope").n_unique(),
                "distinct_queries": replayed.get_column("query_hash").n_unique(),
                "threshold": threshold,
                "threshold_reason": DEFAULT_THRESHOLD_REASON if config.semantic_threshold is None
                else "set in the configuration (semantic_threshold)",
                "hit_rate": chosen["hit_rate"],
                "identical_query_hits": hits.filter(pl.col("query_hash") == pl.col("match_query_hash")).height,
                "false_hit_risk": chosen["false_hit_risk"],
                "hits_without_both_answers": unlogged,
                "material_difference_below": MATERIAL_DIFFERENCE,
                "threshold_sweep": sweep,
                "by_feature": _by_feature(replayed, threshold),
                "examples": _examples(hits),
            },
            savings_by_request=answered(hits),
        )

    def _replay(self, stateless: pl.DataFrame, threshold: float, ttl: timedelta) -> pl.DataFrame:
        """Each request with its most similar earlier request of the same scope within the TTL."""
        # The context a question was asked about joins the scope, so a cached answer is only served for the
        # same documents (two questions about one long document would otherwise look alike, and one question
        # about different documents would get a stale answer).
        ordered = stateless.with_columns(
            # A 64-bit key: the scope strings of a million requests were 100 MB in each frame below.
            scope=pl.struct(pl.col("model").fill_null(""), pl.col("system_key").fill_null(0),
                            pl.col("tools_hash").fill_null(""), pl.col("context_key").fill_null(""),
                            pl.col("output_params").fill_null("")).hash(SCOPE_SEED),
            question=pl.col("question").fill_null(""),
            micros=pl.col("ts").dt.epoch("us"),
            seconds=pl.col("ts").dt.epoch("us").cast(pl.Float64) / 1e6,
        ).sort(["ts", "request_id"]).with_row_index("order")
        # One item per distinct question within a scope; one row per distinct question (vectorised once).
        items = (
            ordered.group_by("scope", "question")
            .agg(first_seen=pl.col("seconds").min(), last_seen=pl.col("seconds").max())
            .sort(["scope", "first_seen", "question"]).with_row_index("item")
        )
        distinct = items.select("question").unique(maintain_order=True)
        items = items.join(distinct.with_row_index("text_row"), on="question", maintain_order="left")
        # Long prompts are documents or pasted content, not FAQ questions: they match only when identical
        # (the self-edge below); vectorising them costs most of the time and memory for no realistic hit.
        questions = [q if len(q) <= MAX_SEMANTIC_CHARS else "" for q in distinct.get_column("question").to_list()]
        screen: sp.csr_matrix | None = None
        if isinstance(self.encoder, TfidfQueryEncoder) and self.encoder.char_ngrams is not None \
                and threshold >= SCREEN_MIN_THRESHOLD:
            # The word part finds the candidates; only theirs of the combined vectors are built, to score them.
            vectors, screen = self.encoder.encode_on_demand(questions)
            screen = _with_wordless_marker(screen, np.array([not q for q in questions]))
        else:
            vectors = self.encoder.encode(questions)
        scope_starts = items.with_row_index("row").group_by("scope", maintain_order=True).agg(pl.col("row").first())
        text_rows = items.get_column("text_row").to_numpy()
        found = similar_pairs(
            vectors,
            scope_starts.get_column("row").to_numpy(), items.get_column("first_seen").to_numpy(),
            # The index only needs a necessary time condition: a second of slack absorbs float rounding,
            # the exact TTL is checked below in integer microseconds.
            items.get_column("last_seen").to_numpy(), threshold, ttl.total_seconds() + 1.0,
            # The items' rows of the small word part; the vectors are read through text_rows (no copy per item).
            screen=None if screen is None else sp.csr_matrix(screen[text_rows]),
            screen_threshold=2 * threshold - 1, rows=text_rows,
        )
        del vectors
        item_ids = items.get_column("item").to_numpy()
        edges = pl.DataFrame({
            "item": np.concatenate([found.later, found.earlier, item_ids]),
            "neighbour": np.concatenate([found.earlier, found.later, item_ids]),
            "cosine": np.concatenate([found.cosine, found.cosine, np.ones(len(item_ids), dtype=np.float32)]),
        }, schema={"item": pl.UInt32, "neighbour": pl.UInt32, "cosine": pl.Float32})
        requests = ordered.join(items.select("scope", "question", "item"), on=["scope", "question"])
        occurrences = requests.select(neighbour="item", match_order="order", match_micros="micros",
                                      match_query_hash="query_hash", match_question="question",
                                      match_output_hash="output_hash").sort("match_order")
        best = (
            requests.select("order", "item", "micros").join(edges, on="item")
            .sort("order")
            .join_asof(occurrences, left_on="order", right_on="match_order", by="neighbour",
                       allow_exact_matches=False, check_sortedness=False)
            .filter(pl.col("match_order").is_not_null()
                    & (pl.col("micros") - pl.col("match_micros") <= ttl // timedelta(microseconds=1)))
            .sort(["order", "cosine", "match_order"], descending=[False, True, True])
            .unique("order", keep="first")
            .select("order", pl.col("cosine").cast(pl.Float64).round(6), "match_query_hash",
                    "match_question", "match_output_hash")
        )
        return requests.join(best, on="order", how="left").with_columns(pl.col("cosine").fill_null(0.0)).sort("order")



def _with_wordless_marker(words: sp.csr_matrix, blank: np.ndarray | None = None) -> sp.csr_matrix:
    """The word part plus one column set for texts with no word at all (``blank`` texts apart).

    Such a text's vector is its character part alone, so against a text with words its cosine is
    at most 1/sqrt(2) (< SCREEN_MIN_THRESHOLD): it can only reach the threshold with another
    word-less text, and the shared marker makes those pairs candidates. A blank text (empty, or a
    long question left unvectorised) has a zero vector and no neighbour: marking it would make every
    pair of them a candidate (measured: 103M candidates for 8k pairs on a 1M-request log).
    """
    wordless = np.diff(words.indptr) == 0
    if blank is not None:
        wordless &= ~blank
    wordless = wordless.astype(np.float32)
    return sp.csr_matrix(sp.hstack([words, sp.csr_matrix(wordless.reshape(-1, 1))], format="csr"))

def _with_answer_similarity(replayed: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """answer_cosine: TF-IDF cosine of a request's logged answer and its match's (null unless both logged)."""
    pairs = (
        replayed.filter(pl.col("output_hash").is_not_null() & pl.col("match_output_hash").is_not_null())
        .select("output_hash", "match_output_hash").unique().sort(["output_hash", "match_output_hash"])
    )
    if pairs.height == 0:
        return replayed.with_columns(answer_cosine=pl.lit(None, dtype=pl.Float64))
    hashes = pl.concat([pairs.get_column("output_hash"), pairs.get_column("match_output_hash")]).unique().sort()
    answers = pl.DataFrame({"text_hash": hashes}).join(
        texts.select("text_hash").with_row_index("text_row"), on="text_hash", how="left").sort("text_hash")
    matrix = ANSWER_ENCODER.encode(
        [(text or "")[:ANSWER_CHARS] for text in strings_at(texts.get_column("text"), answers.get_column("text_row"))])
    row = {digest: index for index, digest in enumerate(answers.get_column("text_hash").to_list())}
    left = np.array([row[h] for h in pairs.get_column("output_hash").to_list()], dtype=np.int64)
    right = np.array([row[h] for h in pairs.get_column("match_output_hash").to_list()], dtype=np.int64)
    cosine = np.where(left == right, 1.0, rowwise_cosine(matrix, left, right))
    scored = pairs.with_columns(answer_cosine=pl.Series(cosine, dtype=pl.Float64).round(6))
    return replayed.join(scored, on=["output_hash", "match_output_hash"], how="left")


def _sweep_row(replayed: pl.DataFrame, threshold: float, context: AnalysisContext) -> dict[str, object]:
    hits = replayed.filter(pl.col("cosine") >= threshold)
    compared = hits.filter(pl.col("answer_cosine").is_not_null())
    differ = compared.filter(pl.col("answer_cosine") < MATERIAL_DIFFERENCE).height
    saved = series_sum(hits.get_column("cost_usd"))
    return {
        "threshold": threshold,
        "hits": hits.height,
        "hit_rate": round(hits.height / replayed.height, 6),
        "savings_usd": round(saved, 6),
        "monthly_savings_usd": context.monthly(saved),
        "false_hit_risk": round(differ / compared.height, 6) if compared.height else None,
        "answers_compared": compared.height,
    }


def _by_feature(replayed: pl.DataFrame, threshold: float) -> list[dict[str, object]]:
    hit = pl.col("cosine") >= threshold
    grouped = replayed.group_by(pl.col("feature").fill_null("(none)")).agg(
        requests=pl.len(), hits=hit.sum(), savings_usd=exact_sum(pl.col("cost_usd").filter(hit)),
    ).sort(["savings_usd", "feature"], descending=[True, False])
    return [
        {"feature": r["feature"], "requests": r["requests"], "hits": r["hits"],
         "hit_rate": round(r["hits"] / r["requests"], 6), "savings_usd": round(r["savings_usd"] or 0.0, 6)}
        for r in grouped.iter_rows(named=True)
    ]


def _examples(hits: pl.DataFrame) -> list[dict[str, object]]:
    """The matched pairs of different query texts that saved most, with excerpts of both questions."""
    reworded = (
        hits.filter(pl.col("query_hash") != pl.col("match_query_hash"))
        .group_by("query_hash", "match_query_hash").agg(
            hits=pl.len(), savings_usd=exact_sum(pl.col("cost_usd")), cosine=pl.col("cosine").first(),
            answer_cosine=pl.col("answer_cosine").min(), question=pl.col("question").first(),
            match_question=pl.col("match_question").first(),
            feature=pl.col("feature").first(), model=pl.col("model").first(),
        )
        .sort(["savings_usd", "query_hash", "match_query_hash"], descending=[True, False, False])
        .head(TOP_EXAMPLES)
    )
    return [
        {**_excerpts(r["question"] or "", r["match_question"] or ""), "cosine": r["cosine"],
         "answer_cosine": r["answer_cosine"], "feature": r["feature"], "model": r["model"], "hits": r["hits"], "savings_usd": round(r["savings_usd"] or 0.0, 6)}
        for r in reworded.sort(["savings_usd", "query_hash", "match_query_hash"],
                               descending=[True, False, False]).iter_rows(named=True)
    ]


def _excerpts(query: str, cached: str) -> dict[str, str]:
    """Excerpts of both queries; a long shared opening (a template) is skipped to show where they differ."""
    query, cached = redact_text(query), redact_text(cached)  # before any cut: a cut key no longer looks like one
    shared = len(os.path.commonprefix([query, cached]))
    start = shared - EXCERPT_CHARS // 3 if shared > EXCERPT_CHARS // 2 else 0
    lead = "…" if start else ""
    return {"query": lead + query[start:start + EXCERPT_CHARS], "cached_query": lead + cached[start:start + EXCERPT_CHARS]}
