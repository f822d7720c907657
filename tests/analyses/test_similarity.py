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
