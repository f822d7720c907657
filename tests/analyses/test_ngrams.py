"""The column-wise n-gram counts give scikit-learn's features (up to which bucket each lands in)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import HashingVectorizer

from llmaudit.analyses.ngrams import char_wb_counts, word_counts

TEXTS = [
    "How do I reset my password?",
    "how do i RESET my password??  ",
    "",
    "   \t\n ",
    "a",
    "ab cd",
    "Größe of the Übersicht: naïve café",
    "supercalifragilisticexpialidocious",
    "tabs\tand\nnew  lines",
    "x" * 700,
    "一个 中文 句子",
]


def _reference(analyzer: str, ngrams: tuple[int, int], texts: list[str]) -> sp.csr_matrix:
    vectorizer = HashingVectorizer(analyzer=analyzer, ngram_range=ngrams, n_features=2**24, alternate_sign=False,
                                   norm=None, dtype=np.float32)
    return sp.csr_matrix(vectorizer.transform(texts))


def _row_counts(matrix: sp.csr_matrix) -> list[list[float]]:
    """Each row's n-gram counts, sorted: the same multiset whatever the buckets (no collision here)."""
    return [sorted(matrix.getrow(row).data.tolist()) for row in range(matrix.shape[0])]


def test_char_wb_matches_scikit_learn() -> None:
    texts = [text[:500] for text in TEXTS]
    ours = char_wb_counts(TEXTS, (3, 5), 24, 500)
    assert ours.shape == (len(TEXTS), 2**24)
    assert _row_counts(ours) == _row_counts(_reference("char_wb", (3, 5), texts))


def test_word_matches_scikit_learn() -> None:
    ours = word_counts(TEXTS, (1, 2), 24)
    assert _row_counts(ours) == _row_counts(_reference("word", (1, 2), TEXTS))


def test_same_ngram_same_bucket_across_rows() -> None:
    matrix = char_wb_counts(["cat", "the cat", "dog"], (3, 5), 22, 500)
    cat = set(matrix.getrow(0).indices)
    assert cat <= set(matrix.getrow(1).indices)
    assert not cat & set(matrix.getrow(2).indices)


def test_empty_inputs() -> None:
    assert char_wb_counts([], (3, 5), 22, 500).shape == (0, 2**22)
    assert word_counts([], (1, 2), 20).shape == (0, 2**20)
    assert word_counts(["", "!"], (1, 2), 20).nnz == 0


def test_chunks_give_the_same_matrix(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    whole = char_wb_counts(TEXTS, (3, 5), 22, 500)
    monkeypatch.setattr("llmaudit.analyses.ngrams.CHUNK_CHARS", 10)
    chunked = char_wb_counts(TEXTS, (3, 5), 22, 500)
    assert (whole != chunked).nnz == 0


def test_word_chunks_give_the_same_matrix(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    whole = word_counts(TEXTS, (1, 2), 22)
    monkeypatch.setattr("llmaudit.analyses.ngrams.WORD_CHUNK_CHARS", 10)
    chunked = word_counts(TEXTS, (1, 2), 22)
    assert whole.shape == chunked.shape and (whole != chunked).nnz == 0
    assert np.array_equal(whole.indptr, chunked.indptr)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab cD\té\n.,é1_"), max_size=40), min_size=1, max_size=8))
def test_char_wb_counts_property(texts: list[str]) -> None:
    ours = char_wb_counts(texts, (3, 5), 24, 500)
    assert _row_counts(ours) == _row_counts(_reference("char_wb", (3, 5), texts))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.dictionaries(st.integers(0, 40), st.integers(1, 9), max_size=12), min_size=1, max_size=30),
       chunk=st.integers(1, 50))
def test_tfidf_in_place_is_scikit_learns_bit_for_bit(rows: list[dict[int, int]], chunk: int) -> None:
    from unittest import mock

    from sklearn.feature_extraction.text import TfidfTransformer

    from llmaudit.analyses import similarity
    counts = sp.csr_matrix(
        ([float(n) for row in rows for n in row.values()], [c for row in rows for c in row],
         np.cumsum([0, *map(len, rows)])), shape=(len(rows), 41), dtype=np.float32)
    counts.sort_indices()
    expected = sp.csr_matrix(TfidfTransformer(sublinear_tf=True).fit_transform(counts.copy()), dtype=np.float32)
    with mock.patch.object(similarity, "TFIDF_CHUNK", chunk):  # runs of whole rows, however small
        got = similarity._tfidf(counts)
    assert np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
    assert np.array_equal(got.data, expected.data)
