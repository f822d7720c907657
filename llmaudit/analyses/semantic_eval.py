"""How well the semantic matcher separates paraphrases from different questions, on labelled pairs.

Positives: real Quora duplicate-question pairs and GPTCache's paraphrase pairs. Clear
negatives: pairs of different MT-bench prompts, and each Quora (or GPTCache) origin paired
with the rewording of another, randomly drawn pair (seeded), never two texts that the
positive pairs connect. The matcher calls a pair a match when its cosine is >= the threshold.

Random negatives are easy: a lexical matcher almost never confuses them, so precision on them
says little. The hard negatives a cache meets are near neighbours on the same topic. So the
labelled texts are also replayed as one query stream: every pair the matcher matches there is
either linked by the labelled pairs or by equal wording up to case, spacing and
punctuation (a known duplicate) or not (a false hit, or a duplicate
nobody labelled). The linked share is a lower bound on the matcher's precision on real
traffic, and the default threshold must reach the target on it as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from llmaudit.analyses.similarity import QueryEncoder, TfidfQueryEncoder, rowwise_cosine, similar_pairs

QUORA_FILE = "gptcache_similiar_qqp.json"
PARAPHRASE_FILE = "gptcache_mock_data.json"
MT_BENCH_FILE = "mt_bench_question.jsonl"
TARGET_PRECISION = 0.95


@dataclass(frozen=True)
class LabelledPair:
    """Two queries and whether a cache may answer one with the other's answer."""

    left: str
    right: str
    duplicate: bool
    source: str
    """quora | paraphrase | mt_bench | quora_shuffled | paraphrase_shuffled."""


@dataclass(frozen=True)
class ThresholdScore:
    """The matcher's quality at one threshold."""

    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class StreamScore:
    """The matcher's matches among all the labelled texts replayed as one stream, at one threshold."""

    threshold: float
    matches: int
    linked: int
    """Matches joining two texts that the positive pairs connect."""
    precision_lower_bound: float


@dataclass(frozen=True)
class Evaluation:
    """Scores at every threshold, per-source match rates, and the threshold chosen for precision."""

    encoder: str
    positives: int
    negatives: int
    scores: list[ThresholdScore]
    stream_texts: int
    stream: list[StreamScore]
    match_rate_by_source: dict[str, list[float]]
    """Source -> share of its pairs matched at each threshold (recall for positives, false-match rate for negatives)."""
    chosen_threshold: float
    reason: str


def evaluate(pairs: Sequence[LabelledPair], thresholds: Sequence[float],
             encoder: QueryEncoder | None = None, target_precision: float = TARGET_PRECISION) -> Evaluation:
    """Precision, recall and F1 of "cosine >= t" at each threshold; the encoder is fitted on the pairs' texts."""
    encoder = encoder or TfidfQueryEncoder()
    texts = sorted({p.left for p in pairs} | {p.right for p in pairs})
    row = {text: index for index, text in enumerate(texts)}
    matrix = encoder.encode(texts)
    cosine = rowwise_cosine(matrix, np.array([row[p.left] for p in pairs], dtype=np.int64),
                            np.array([row[p.right] for p in pairs], dtype=np.int64))
    labels = np.array([p.duplicate for p in pairs], dtype=bool)
    sources = np.array([p.source for p in pairs])
    scores = [_score(float(t), cosine >= t, labels) for t in sorted(thresholds)]
    by_source = {
        source: [round(float((cosine[sources == source] >= t).mean()), 4) for t in sorted(thresholds)]
        for source in sorted(set(sources.tolist()))
    }
    stream = _stream_scores(texts, matrix, pairs, sorted(thresholds))
    chosen, reason = choose_threshold(scores, stream, target_precision)
    return Evaluation(encoder.name, int(labels.sum()), int((~labels).sum()), scores, len(texts), stream,
                      by_source, chosen, reason)


def choose_threshold(scores: Sequence[ThresholdScore], stream: Sequence[StreamScore],
                     target_precision: float = TARGET_PRECISION) -> tuple[float, str]:
    """The lowest threshold whose labelled precision and stream lower bound both reach the target.

    When none does, the threshold with the best stream lower bound, said plainly.
    """
    bound = {s.threshold: s for s in stream}
    reaching = [s for s in scores if s.true_positives and s.precision >= target_precision
                and bound[s.threshold].precision_lower_bound >= target_precision]
    if reaching:
        best = min(reaching, key=lambda s: s.threshold)
        return best.threshold, (
            f"lowest threshold with precision >= {target_precision:.2f} both on labelled pairs"
            f" ({best.precision:.3f}, recall {best.recall:.3f}) and as a lower bound over the labelled"
            f" texts replayed as a stream ({bound[best.threshold].precision_lower_bound:.3f})")
    best_stream = max(stream, key=lambda s: (s.precision_lower_bound, s.threshold))
    return best_stream.threshold, (
        f"no threshold reaches precision {target_precision:.2f} on both measures; the one with the best"
        f" stream lower bound ({best_stream.precision_lower_bound:.3f})")


def _stream_scores(texts: list[str], matrix: sp.csr_matrix, pairs: Sequence[LabelledPair],
                   thresholds: list[float]) -> list[StreamScore]:
    """Every pair of labelled texts the matcher matches, split into linked and unlinked, per threshold."""
    # Texts equal up to case, spacing and punctuation are the same question by definition.
    same = [(text, _folded(text)) for text in texts]
    cluster = _clusters([(p.left, p.right) for p in pairs if p.duplicate] + same)
    group = np.array([cluster[text] for text in texts])
    zeros = np.zeros(len(texts))
    found = similar_pairs(matrix, np.array([0]), zeros, zeros, min(thresholds))
    linked = group[found.earlier] == group[found.later]
    out = []
    for t in thresholds:
        matched = found.cosine >= t
        matches, known = int(matched.sum()), int((matched & linked).sum())
        out.append(StreamScore(t, matches, known, round(known / matches, 4) if matches else 1.0))
    return out


def _score(threshold: float, matched: np.ndarray, labels: np.ndarray) -> ThresholdScore:
    tp = int((matched & labels).sum())
    fp = int((matched & ~labels).sum())
    fn = int((~matched & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ThresholdScore(threshold, tp, fp, fn, round(precision, 4), round(recall, 4), round(f1, 4))


def load_labelled_pairs(directory: Path, seed: int = 0) -> list[LabelledPair]:
    """The labelled pairs built from the query files in ``directory`` (see the module docstring)."""
    quora = _read_pairs(directory / QUORA_FILE)
    paraphrase = _read_pairs(directory / PARAPHRASE_FILE)
    prompts = [json.loads(line)["turns"][0] for line in (directory / MT_BENCH_FILE).read_text().splitlines() if line]
    cluster = _clusters(quora + paraphrase)
    rng = np.random.default_rng(seed)
    pairs = [LabelledPair(a, b, True, "quora") for a, b in quora]
    pairs += [LabelledPair(a, b, True, "paraphrase") for a, b in paraphrase]
    # Only the first turns: second turns ("Rewrite your previous response...") lean on context, some alike.
    pairs += [LabelledPair(a, b, False, "mt_bench") for a, b in combinations(prompts, 2) if a != b]
    pairs += _shuffled(quora, cluster, rng, "quora_shuffled")
    pairs += _shuffled(paraphrase, cluster, rng, "paraphrase_shuffled")
    return pairs


def _folded(text: str) -> str:
    return "\x00" + " ".join(re.findall(r"\w+", text.lower()))


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    return [(item["origin"], item["similar"]) for item in json.loads(path.read_text(encoding="utf-8"))]


def _shuffled(pairs: list[tuple[str, str]], cluster: dict[str, str], rng: np.random.Generator,
              source: str) -> list[LabelledPair]:
    """Each origin with another pair's rewording, unless the positives link the two texts."""
    order = rng.permutation(len(pairs))
    return [
        LabelledPair(pairs[i][0], pairs[j][1], False, source)
        for i, j in enumerate(order.tolist())
        if i != j and cluster[pairs[i][0]] != cluster[pairs[j][1]]
    ]


def _clusters(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Text -> a representative of the texts the positive pairs connect (union-find)."""
    parent: dict[str, str] = {}

    def root(text: str) -> str:
        parent.setdefault(text, text)
        while parent[text] != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    for a, b in pairs:
        parent[root(a)] = root(b)
    return {text: root(text) for text in list(parent)}
