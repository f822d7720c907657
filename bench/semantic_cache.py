"""Semantic cache benchmark: the matcher's precision and recall, and the lever's run time and memory.

1. Quality: `semantic_eval.evaluate` on the labelled paraphrase data in ../shared/data/queries
   (Quora duplicate pairs, GPTCache paraphrases, MT-bench prompts), at the lever's sweep
   thresholds; prints the table the default threshold was pinned from.
2. Scale: the semantic cache lever on synthetic streams of stateless requests (100k and 1M by
   default), each size in its own process so that its peak RSS is its own. The streams reuse
   the real query texts as seeds: repeats of popular questions, both halves of Quora duplicate
   pairs, fresh questions and two-question prompts, over 30 days and 60 scopes (3 models x 20
   system prompts, Zipf-weighted), each with a logged answer.

Usage: python bench/semantic_cache.py [--sizes 100000 1000000] [--skip-eval] [--skip-scale]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from llmaudit.analyses.interface import AnalysisContext, LeverConfig
from llmaudit.analyses.semantic_cache import DEFAULT_THRESHOLD, SemanticCacheLever
from llmaudit.analyses.semantic_eval import evaluate, load_labelled_pairs
from llmaudit.table import text_hash

QUERIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "queries"
START = datetime(2025, 9, 1, tzinfo=UTC)
DAYS = 30
MODELS = (("gpt-4o", 2.5, 10.0), ("gpt-4o-mini", 0.15, 0.6), ("claude-sonnet-4-5", 3.0, 15.0))
SYSTEM_PROMPTS = 20
SHARES = {"repeat": 0.35, "paired": 0.10, "fresh": 0.30, "two_questions": 0.25}
FILLER = [
    "It depends on your situation, so start with the basics and check the official documentation.",
    "Most people find that practising a little every day works better than long irregular sessions.",
    "The short answer is yes, but there are a few exceptions worth knowing about before you decide.",
    "Compare the costs, the time involved and the risks, then pick the option that fits your goals.",
    "Ask someone who has done it before; their experience will save you a lot of trial and error.",
]


def quality_table() -> None:
    """Print precision, recall and F1 per threshold, the stream lower bound, and the chosen default."""
    started = time.perf_counter()
    evaluation = evaluate(load_labelled_pairs(QUERIES), LeverConfig().semantic_thresholds)
    print(f"Matcher: {evaluation.encoder}")
    print(f"Labelled pairs: {evaluation.positives:,} positives, {evaluation.negatives:,} clear negatives;"
          f" stream of {evaluation.stream_texts:,} labelled texts  ({time.perf_counter() - started:.1f} s)")
    print(f"{'threshold':>9} {'TP':>6} {'FP':>4} {'precision':>9} {'recall':>7} {'F1':>6}"
          f" {'stream matches':>14} {'known dup':>9} {'precision >=':>12}")
    for score, stream in zip(evaluation.scores, evaluation.stream, strict=True):
        print(f"{score.threshold:>9.2f} {score.true_positives:>6} {score.false_positives:>4}"
              f" {score.precision:>9.3f} {score.recall:>7.3f} {score.f1:>6.3f}"
              f" {stream.matches:>14} {stream.linked:>9} {stream.precision_lower_bound:>12.3f}")
    print("Match rate by source (recall for positives, false-match rate for negatives):")
    for source, rates in evaluation.match_rate_by_source.items():
        print(f"  {source:<20} " + " ".join(f"{r:.4f}" for r in rates))
    print(f"Chosen: {evaluation.chosen_threshold} - {evaluation.reason}")
    print(f"Pinned DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD}"
          + ("" if evaluation.chosen_threshold == DEFAULT_THRESHOLD else "  (DIFFERS: re-pin it)"))


def seeds() -> tuple[list[str], list[tuple[str, str]]]:
    """Single questions and duplicate pairs from the real query files."""
    quora = [(p["origin"], p["similar"]) for p in json.loads((QUERIES / "gptcache_similiar_qqp.json").read_text())]
    mock = [(p["origin"], p["similar"]) for p in json.loads((QUERIES / "gptcache_mock_data.json").read_text())]
    prompts = [json.loads(line)["turns"][0] for line in (QUERIES / "mt_bench_question.jsonl").read_text().splitlines()]
    singles = sorted({q for pair in quora + mock for q in pair} | set(prompts))
    return singles, quora + mock


def synthetic_context(size: int, seed: int = 0) -> AnalysisContext:
    """A priced, stateless request stream of ``size`` rows, as the levers receive it."""
    rng = np.random.default_rng(seed)
    singles, pairs = seeds()
    kinds = rng.choice(list(SHARES), size=size, p=list(SHARES.values()))
    scope_weights = 1.0 / np.arange(1, len(MODELS) * SYSTEM_PROMPTS + 1)
    scopes = rng.choice(len(scope_weights), size=size, p=scope_weights / scope_weights.sum())
    seconds = np.sort(rng.uniform(0, DAYS * 86400, size=size))
    popular = [singles[i] for i in rng.choice(len(singles), size=2_000, replace=False)]
    popularity = 1.0 / np.arange(1, len(popular) + 1) ** 1.1
    queries: list[str] = []
    topics: list[str] = []
    for kind in kinds.tolist():
        if kind == "repeat":
            query = popular[rng.choice(len(popular), p=popularity / popularity.sum())]
            topic = query
        elif kind == "paired":
            origin, similar = pairs[int(rng.integers(len(pairs)))]
            query, topic = (origin if rng.random() < 0.5 else similar), origin
        elif kind == "fresh":
            query = singles[int(rng.integers(len(singles)))]
            topic = query
        else:
            first, second = rng.choice(len(singles), size=2)
            query = f"{singles[first]} Also, {singles[second][0].lower()}{singles[second][1:]}"
            topic = query
        queries.append(query)
        topics.append(topic)
    # The same topic gets the same answer; one request in twenty gets a differently worded sample.
    resample = rng.random(size) < 0.05
    answers = [f"About '{topic[:60]}': {FILLER[(len(topic) + 3 * again) % 5]} {FILLER[(len(topic) + 2) % 5]}"
               for topic, again in zip(topics, resample.tolist(), strict=True)]
    systems = [f"You are assistant #{s % SYSTEM_PROMPTS} of Acme. Answer briefly and cite sources." for s in scopes]
    request_ids = [f"req-{k:08d}" for k in range(size)]
    query_hashes = [text_hash(q) for q in queries]
    system_hashes = [text_hash(s) for s in systems]
    answer_hashes = [text_hash(a) for a in answers]
    model_index = scopes // SYSTEM_PROMPTS
    input_tokens = rng.integers(50, 400, size=size)
    output_tokens = rng.integers(20, 600, size=size)
    in_price = np.array([m[1] for m in MODELS])[model_index]
    out_price = np.array([m[2] for m in MODELS])[model_index]
    requests = pl.DataFrame({
        "request_id": request_ids,
        "ts": [START] * size,
        "model": [MODELS[m][0] for m in model_index.tolist()],
        "status": ["ok"] * size,
        "is_aggregate": [False] * size,
        "feature": [f"feature-{s % 7}" for s in scopes.tolist()],
        "tools_hash": [None] * size,
        "output_hash": answer_hashes,
        "cost_usd": (input_tokens * in_price + output_tokens * out_price) / 1e6,
    }, schema_overrides={"tools_hash": pl.String}).with_columns(
        pl.col("ts") + pl.duration(microseconds=pl.Series((seconds * 1e6).astype(np.int64))),
    )
    messages = pl.DataFrame({
        "request_id": request_ids * 2,
        "seq": [0] * size + [1] * size,
        "role": ["system"] * size + ["user"] * size,
        "kind": ["text"] * (2 * size),
        "component": ["system"] * size + ["query"] * size,
        "text_hash": system_hashes + query_hashes,
    })
    texts = pl.DataFrame({"text_hash": system_hashes + query_hashes + answer_hashes,
                          "text": systems + queries + answers}).unique("text_hash")
    return AnalysisContext(requests, messages, texts, float(DAYS), LeverConfig())


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def run_one(size: int) -> None:
    """Generate one stream, run the lever on it, print one JSON line of measurements."""
    started = time.perf_counter()
    context = synthetic_context(size)
    generated = time.perf_counter() - started
    baseline = rss_mb()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    result = SemanticCacheLever().run(context)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    details = result.details
    print(json.dumps({
        "requests": size, "generate_s": round(generated, 1), "lever_s": round(elapsed, 1),
        "rss_before_lever_mb": round(baseline), "peak_rss_during_lever_mb": round(max(peak[0], rss_mb())),
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "distinct_queries": details["distinct_queries"], "scopes": details["scopes"],
        "sweep": [(row["threshold"], row["hits"], row["false_hit_risk"]) for row in details["threshold_sweep"]],
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one)
        return 0
    if not args.skip_eval:
        quality_table()
    if not args.skip_scale:
        print(f"\nScale (one process per size; {DAYS} days, 60 scopes, TTL 24 h):")
        for size in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True,
                                 check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {size:>9,} requests: lever {row['lever_s']:.1f} s, peak RSS {row['peak_rss_during_lever_mb']:,} MB"
                  f" (before the lever {row['rss_before_lever_mb']:,} MB); {row['distinct_queries']:,} distinct"
                  f" queries; generated in {row['generate_s']:.1f} s")
            print(f"            sweep (threshold, hits, false-hit risk): {row['sweep']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
