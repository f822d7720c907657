"""The query encoder gives the same vectors however its work is cut into runs."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from llmaudit.analyses import similarity
from llmaudit.analyses.similarity import TfidfQueryEncoder

TEXTS = [
    "How do I reset my password?",
    "how do i RESET my password??",
    "",
    "What are your opening hours on Sunday?",
    "Größe of the Übersicht: naïve café",
    "x" * 700,
    "Can I get a refund for an annual plan",
    "can i get a refund for my annual plan?",
]


def _same(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    return (a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data, b.data))


def test_runs_of_rows_give_the_same_vectors_bit_for_bit(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    vectors, words = TfidfQueryEncoder().encode_parts(TEXTS)
    monkeypatch.setattr("llmaudit.analyses.ngrams.CHUNK_CHARS", 10)  # a run of rows per text or two
    monkeypatch.setattr("llmaudit.analyses.ngrams.WORD_CHUNK_CHARS", 10)
    monkeypatch.setattr(similarity, "TFIDF_CHUNK", 7)  # counts, IDF and renumbering a few weights at a time
    chunked_vectors, chunked_words = TfidfQueryEncoder().encode_parts(TEXTS)
    assert _same(vectors, chunked_vectors)
    assert _same(words, chunked_words)


def test_vectors_are_normalised_and_identical_texts_match() -> None:
    vectors = TfidfQueryEncoder().encode(TEXTS + [TEXTS[0]])
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    assert np.allclose(norms[[i for i, text in enumerate(TEXTS + [TEXTS[0]]) if text]], 1.0, atol=1e-5)
    assert float((vectors[0] @ vectors[len(TEXTS)].T).toarray()[0, 0]) > 0.9999


def test_items_sharing_rows_find_the_pairs_of_a_copied_matrix() -> None:
    from llmaudit.analyses.similarity import similar_pairs

    vectors, words = TfidfQueryEncoder().encode_parts(TEXTS)
    # Items in two scopes; a text asked in both points at one row of the vectors.
    rows = np.array([0, 1, 6, 7, 3, 0, 1, 6, 7, 4])
    starts = np.array([0, 4])
    seen = np.arange(len(rows), dtype=np.float64)
    copied = sp.csr_matrix(vectors[rows])
    for screen in (None, sp.csr_matrix(words[rows])):
        threshold = 0.6
        expected = similar_pairs(copied, starts, seen, seen, threshold, screen=screen,
                                 screen_threshold=None if screen is None else 2 * threshold - 1)
        shared = similar_pairs(vectors, starts, seen, seen, threshold, screen=screen,
                               screen_threshold=None if screen is None else 2 * threshold - 1, rows=rows)
        assert len(expected.later) >= 2  # the rewordings of each scope
        assert np.array_equal(expected.earlier, shared.earlier) and np.array_equal(expected.later, shared.later)
        assert np.array_equal(expected.cosine, shared.cosine)


def test_pair_scores_are_the_same_in_chunks_of_any_size(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from llmaudit.analyses.similarity import rowwise_cosine

    vectors = TfidfQueryEncoder().encode(TEXTS)
    left = np.array([0, 0, 1, 6, 2, 5, 7, 3])
    right = np.array([1, 0, 0, 7, 3, 5, 6, 4])
    whole = rowwise_cosine(vectors, left, right)
    monkeypatch.setattr(similarity, "SCORE_WEIGHTS", 3)  # fewer weights than one row: one pair per chunk
    assert np.array_equal(rowwise_cosine(vectors, left, right), whole)
    monkeypatch.setattr(similarity, "SCORE_WEIGHTS", 60)
    assert np.array_equal(rowwise_cosine(vectors, left, right), whole)
    assert whole[1] > 0.9999 and whole[0] > 0.5 and whole[4] == 0.0  # itself; a rewording; a blank text


def test_rows_built_on_demand_score_like_the_whole_matrix_to_the_bit() -> None:
    from llmaudit.analyses.similarity import rowwise_cosine, similar_pairs

    texts = [*TEXTS, "how do I reset the password", "What are the opening hours on Sundays?"]
    vectors, words = TfidfQueryEncoder().encode_parts(texts)
    on_demand, on_demand_words = TfidfQueryEncoder().encode_on_demand(texts)
    assert _same(words, on_demand_words)
    assert on_demand.shape[0] == vectors.shape[0]
    pick = np.array([8, 0, 3, 9, 1])
    rows = on_demand.rows(pick)
    every = np.arange(len(pick))
    left, right = np.repeat(every, len(pick)), np.tile(every, len(pick))
    assert np.array_equal(rowwise_cosine(rows, left, right), rowwise_cosine(vectors, pick[left], pick[right]))
    starts, seen = np.array([0]), np.arange(len(texts), dtype=np.float64)
    expected = similar_pairs(vectors, starts, seen, seen, 0.6, screen=words, screen_threshold=0.2)
    got = similar_pairs(on_demand, starts, seen, seen, 0.6, screen=words, screen_threshold=0.2)
    assert len(expected.later) >= 2
    assert np.array_equal(expected.earlier, got.earlier) and np.array_equal(expected.later, got.later)
    assert np.array_equal(expected.cosine, got.cosine)
