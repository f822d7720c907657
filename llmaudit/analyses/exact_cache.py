"""Exact response cache: identical requests answered from a cache instead of the model.

Key = model + the full input (every message, tool schemas, a digest of each image, audio clip or
file) + the parameters that change the answer (temperature, top_p, max_tokens, seed, and the rest
the readers keep as ``output_params``: response format, stop sequences, n, tool choice, penalties,
reasoning effort...). Requests are replayed in time order; the first occurrence is a miss that
fills the cache, later identical requests within the TTL of that fill are hits and cost nothing.
Hits at temperature 0 are safe; hits at other temperatures would replace a fresh sample with a
stored one, so they are reported apart.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from llmaudit.analyses.interface import AnalysisContext, Lever, LeverResult
from llmaudit.analyses.prompt_view import input_keys, query_texts
from llmaudit.redaction import excerpt
from llmaudit.sums import exact_sum, series_sum
from llmaudit.tokens.attribution import PART_COLUMNS

TOP_REPEATED = 10
CACHE_KEY_SEED = 7
EXCERPT_CHARS = 120


def replay_hits(frame: pl.DataFrame, key: str, ttl: timedelta) -> pl.Series:
    """For rows sorted by time: True where an earlier fill of the same key is younger than the TTL."""
    # Keys are 64-bit hashes and times integer microseconds: no long string per row.
    ids = frame.get_column(key).to_list()
    micros = frame.get_column("ts").dt.epoch("us").to_list()
    window = ttl // timedelta(microseconds=1)
    hits: list[bool] = []
    filled_at: dict[int, int] = {}
    for value, ts in zip(ids, micros, strict=True):
        last = filled_at.get(value)
        if last is not None and ts - last <= window:
            hits.append(True)
        else:
            filled_at[value] = ts
            hits.append(False)
    return pl.Series("hit", hits, dtype=pl.Boolean)


class ExactCacheLever(Lever):
    name = "exact_cache"
    title = "Exact response cache"
    needs_tokens = False

    def run(self, context: AnalysisContext) -> LeverResult:
        requests = context.requests.filter(
            (pl.col("status") == "ok") & ~pl.col("is_aggregate") & pl.col("ts").is_not_null()
            & pl.col("cost_usd").is_not_null()
        ).select("request_id", "ts", "model", "feature", "tools_hash", "temperature", "top_p", "max_tokens", "seed",
                 "output_params", "cost_usd")  # only what the replay reads: the joins below copy every column they carry
        parts = context.messages.select(PART_COLUMNS)
        if context.media is not None and context.media.height:
            parts = pl.concat([parts, context.media.select(PART_COLUMNS)])  # a different image: a different input
        keys = input_keys(parts)
        candidates = requests.join(keys, on="request_id", how="inner")
        if candidates.height == 0:
            return self.skipped(context, "no request in these logs carries its prompt text")
        ttl = timedelta(hours=context.config.exact_cache_ttl_hours)
        keyed = candidates.with_columns(
            # One 64-bit key of everything that must match (see input_keys for the odds of a false match).
            cache_key=pl.struct("model", "parts", "tools_hash", "temperature", "top_p", "max_tokens", "seed",
                                "output_params")
            .hash(CACHE_KEY_SEED),
            deterministic=pl.col("temperature").fill_null(-1.0) == 0.0,
        ).sort(["ts", "request_id"])
        replayed = keyed.with_columns(replay_hits(keyed, "cache_key", ttl))
        hits = replayed.filter(pl.col("hit"))
        saved = series_sum(hits.get_column("cost_usd"))
        safe = hits.filter(pl.col("deterministic"))
        safe_saved = series_sum(safe.get_column("cost_usd"))
        excluded = context.requests.height - candidates.height
        return LeverResult(
            name=self.name,
            title=self.title,
            savings_usd=round(saved, 6),
            monthly_savings_usd=context.monthly(saved),
            affected_requests=hits.height,
            confidence="measured",
            assumptions=[
                f"identical input, model and sampling parameters within {context.config.exact_cache_ttl_hours:g} h"
                " of the first occurrence are answered from a cache at no model cost",
                "the first occurrence of every request is a miss; cache storage and lookup cost are not counted",
                f"hits at temperature 0 are safe ({safe.height} hits, ${safe_saved:.4f}); the other"
                f" {hits.height - safe.height} would serve a stored sample instead of a fresh one",
                f"{excluded} requests without prompt text, timestamp, price or success are not replayed",
            ],
            details={
                "ttl_hours": context.config.exact_cache_ttl_hours,
                "replayed_requests": replayed.height,
                "hit_rate": round(hits.height / replayed.height, 6),
                "deterministic_hits": safe.height,
                "deterministic_savings_usd": round(safe_saved, 6),
                "by_feature": _by_feature(replayed),
                "top_repeated": _top_repeated(replayed, context),
            },
            savings_by_request=answered(hits),
        )


def answered(hits: pl.DataFrame) -> pl.DataFrame:
    """A response cache's savings per request: the whole cost of each request it answers (`stacking.stack`)."""
    return hits.select("request_id", saved_usd=pl.col("cost_usd"), group=pl.lit("all"))


def _by_feature(replayed: pl.DataFrame) -> list[dict[str, object]]:
    grouped = replayed.group_by(pl.col("feature").fill_null("(none)")).agg(
        requests=pl.len(), hits=pl.col("hit").sum(), savings_usd=exact_sum(pl.col("cost_usd").filter(pl.col("hit"))),
    ).sort(["savings_usd", "feature"], descending=[True, False])
    return [
        {"feature": r["feature"], "requests": r["requests"], "hits": r["hits"],
         "hit_rate": round(r["hits"] / r["requests"], 6), "savings_usd": round(r["savings_usd"] or 0.0, 6)}
        for r in grouped.iter_rows(named=True)
    ]


def _top_repeated(replayed: pl.DataFrame, context: AnalysisContext) -> list[dict[str, object]]:
    top = (
        replayed.group_by("cache_key").agg(
            requests=pl.len(), hits=pl.col("hit").sum(), savings_usd=exact_sum(pl.col("cost_usd").filter(pl.col("hit"))),
            request_id=pl.col("request_id").first(), feature=pl.col("feature").first(), model=pl.col("model").first(),
        )
        .filter(pl.col("hits") > 0)
        .sort(["savings_usd", "request_id"], descending=[True, False])
        .head(TOP_REPEATED)
    )
    queries = query_texts(context.messages.filter(pl.col("request_id").is_in(top.get_column("request_id").implode())),
                          context.texts, context.context_patterns)
    top = top.join(queries, on="request_id", how="left")
    return [
        {"excerpt": excerpt(r["question"] or r["query_start"] or "", EXCERPT_CHARS), "feature": r["feature"], "model": r["model"],
         "requests": r["requests"], "hits": r["hits"], "savings_usd": round(r["savings_usd"] or 0.0, 6)}
        for r in top.sort(["savings_usd", "request_id"], descending=[True, False]).iter_rows(named=True)
    ]
