"""Query vectors and an exact, threshold-bounded neighbour search for the semantic cache.

`QueryEncoder` turns texts into L2-normalised rows, so cosine similarity is a dot product.
The default encoder is TF-IDF over word 1-2grams and char_wb 3-5grams, fitted on the texts
it is given. Extension point: an embedding model (for instance one shipped inside a registry
package, loaded offline) is another `QueryEncoder` whose `encode` returns a CSR matrix of
normalised rows; `similar_pairs` accepts any such matrix, although its prefix filter only
prunes well on sparse rows (dense rows leave every pair a candidate, so the search becomes
blocked brute force within each scope and TTL window).

`similar_pairs` never builds an all-pairs matrix. It is the prefix filter of all-pairs
similarity search (Bayardo et al., WWW 2007): order features from rare to common; in each row
the common tail whose squared weights sum below t² cannot reach a cosine of t by itself, so two
rows with cosine >= t share a feature in both of their rare prefixes. Sparse products of the
prefixes (in blocks of rows against the earlier rows of the same scope that are still inside
the time horizon) yield the candidates. The product's value bounds each candidate's cosine from
above (`PrefixIndex`, after the prefix-norm bounds of L2AP: Anastasiu & Karypis, ICDE 2014), which
discards most of them unscored (96% on a 100k-request log); the rest are scored exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from llmaudit.analyses.ngrams import char_wb_batches, char_wb_chunks, stacked, word_counts
from llmaudit.cores import available, ordered_map
from llmaudit.heap import return_free_memory

WORD_BITS = 20
CHAR_BITS = 22
CHAR_WINDOW = 500
"""Typos and inflections matter in short queries; past this, character n-grams cost time and add little."""
BLOCK_ROWS = 1024
"""Rows compared against their window at once."""
WINDOW_COLUMNS = 32_768
"""Earlier rows per sparse product: bounds a product's size however dense the candidates are."""
TFIDF_CHUNK = 8_000_000
"""About this many TF-IDF weights computed at once (runs of whole rows): bounds the temporaries."""
SCORE_CHUNK = 200_000
"""Candidate pairs scored exactly at once, at most."""
SCORE_WEIGHTS = 8_000_000
"""Weights of the candidate pairs' rows copied at once, at most (about 100 MB of temporaries)."""
BOUND_SLACK = 1e-5
"""Float32 rounding allowance: the prefix is made slightly longer than the bound needs."""
LEVELS = 16
"""Cutoff quantiles at which each row's norm below is kept: the looser bound that rules out most pairs."""
SCORE_SLACK = 1e-4
"""Float32 rounding allowance of the upper bound: a pair is dropped only when clearly below the threshold."""


class QueryEncoder(Protocol):
    """Texts -> one L2-normalised row each (CSR, float32), so that cosine = dot product."""

    @property
    def name(self) -> str:
        """What the encoder is, for the report's assumptions."""
        ...

    def encode(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Fit on ``texts`` and return their normalised vectors, row i for text i."""
        ...


@dataclass(frozen=True)
class TfidfQueryEncoder:
    """TF-IDF of word n-grams and char_wb n-grams, each part normalised, then the whole row.

    The two parts weigh the same: word n-grams reward shared wording, character n-grams
    survive typos, inflections and punctuation. N-grams are hashed column-wise (`ngrams`: no
    vocabulary to hold, no Python object per n-gram); with 2^20 word and 2^22 character buckets,
    collisions barely move a cosine. IDF is fitted on the texts given.
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = (3, 5)
    """None: word n-grams only (for long texts such as answers, where character n-grams cost too much)."""
    char_window: int = CHAR_WINDOW
    """Character n-grams read only the first this-many characters (word n-grams read everything)."""
    name: str = "tfidf(word 1-2 + char_wb 3-5, sublinear tf)"

    def encode(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Fit the IDF weights on ``texts`` and return their normalised rows."""
        return self.encode_parts(texts)[0]

    def encode_parts(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(the combined vectors, the normalised word part alone).

        With both parts normalised and weighted equally, cosine = (word cosine + char cosine) / 2,
        so a pair at cosine >= t has word cosine >= 2t - 1: the sparse word part alone finds
        every candidate without missing one (see `similar_pairs`).
        """
        words = _tfidf(word_counts(texts, self.word_ngrams, WORD_BITS))
        if self.char_ngrams is None:
            return _compact(normalised(words.copy())), _compact(words)
        # The character part is the largest: each run of its rows is weighted, joined to its word rows and
        # let go, so the combined rows never sit beside a whole second copy of the character counts.
        chars = char_wb_chunks(texts, self.char_ngrams, CHAR_BITS, self.char_window)
        idf = _idf(chars, 1 << CHAR_BITS)
        combined, row = [], 0
        while chars:
            part = chars.pop(0)
            rows = slice(row, row + part.shape[0])
            combined.append(_combined_rows(words[rows], part, idf))
            row = rows.stop
            del part
            return_free_memory()
        return _compact(stacked(combined, words.shape[1] + (1 << CHAR_BITS))), _compact(words)

    def encode_on_demand(self, texts: Sequence[str]) -> tuple[CombinedRows, sp.csr_matrix]:
        """(the combined vectors as rows built when asked, the normalised word part alone).

        The word part finds the candidates (see `encode_parts`); only the rows of the candidates are
        needed whole. The character part's IDF is fitted on every text as `encode_parts` fits it, but
        its counts are not kept (a million-request log: 630 MB of combined vectors not held)."""
        if self.char_ngrams is None:
            raise ValueError("encode_on_demand needs the character part")
        words = _compact(_tfidf(word_counts(texts, self.word_ngrams, WORD_BITS)))
        columns = 1 << CHAR_BITS
        frequency = np.zeros(columns, dtype=np.int64)
        for chunks in char_wb_batches(texts, self.char_ngrams, CHAR_BITS, self.char_window, 2 * available()):
            frequency += _document_frequency(chunks, columns)
        return CombinedRows(texts, words, _smoothed_idf(frequency, len(texts)), self.char_ngrams, self.char_window), words


@dataclass(frozen=True)
class CombinedRows:
    """Rows of `TfidfQueryEncoder`'s combined vectors, each built when asked from its text.

    Row for row the same values as `encode_parts` gives (each row's weights and norms are its own,
    the IDF is the same), with the columns numbered differently but in the same order, so every dot
    product is the same to the bit."""

    texts: Sequence[str]
    words: sp.csr_matrix
    """The normalised word part of every text (compacted)."""
    char_idf: np.ndarray
    char_ngrams: tuple[int, int]
    char_window: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.texts), self.words.shape[1] + len(self.char_idf)

    def rows(self, indices: np.ndarray) -> sp.csr_matrix:
        """The normalised combined rows of the texts at ``indices``."""
        chosen = [self.texts[i] for i in indices.tolist()]
        chars = stacked(char_wb_chunks(chosen, self.char_ngrams, CHAR_BITS, self.char_window), len(self.char_idf))
        return _combined_rows(self.words[indices], chars, self.char_idf)


def _combined_rows(words: sp.csr_matrix, char_counts: sp.csr_matrix, char_idf: np.ndarray) -> sp.csr_matrix:
    """Normalised rows of the word part (already weighted) beside the same texts' character part, weighted
    here with ``char_idf`` (the counts are consumed)."""
    combined = sp.hstack([words, _tfidf(char_counts, char_idf)], format="csr", dtype=np.float32)
    return normalised(combined)


def normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The rows scaled to unit length, in place (rows of zeros stay zero).

    The same arithmetic as scikit-learn's ``normalize`` (its C loop): each row's float32 squares summed
    in float64 in row order, and every weight divided by the square root in float64. Not imported from
    there: loading scikit-learn costs 0.8 s of CPU in every run, for this one loop.
    """
    data, indptr = matrix.data, matrix.indptr
    for first, last in _row_runs(indptr):
        # The row number of every weight is held for one run only.
        lengths = np.diff(indptr[first:last + 1])
        weights = slice(indptr[first], indptr[last])
        rows = np.repeat(np.arange(last - first, dtype=np.int32), lengths)
        squares = np.square(data[weights]).astype(np.float64)
        norms = np.sqrt(np.bincount(rows, weights=squares, minlength=last - first))  # bincount adds in row order
        norms[norms == 0.0] = 1.0
        data[weights] /= np.repeat(norms, lengths)
    return matrix


def _row_runs(indptr: np.ndarray) -> list[tuple[int, int]]:
    """Runs of whole rows holding about TFIDF_CHUNK weights each, as (first row, row after the last);
    rows without a weight after the last run are in none."""
    bounds = np.unique(np.searchsorted(indptr, np.arange(0, indptr[-1], TFIDF_CHUNK), side="right") - 1)
    return list(zip(bounds.tolist(), [*bounds[1:].tolist(), len(indptr) - 1], strict=False))


def _compact(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Drop the hash buckets no text uses: same dot products, and row slicing stops paying for 5M columns.

    The column numbers are rewritten in place: the matrix given is consumed."""
    used = _column_counts(matrix.indices, matrix.shape[1]) > 0
    number = (np.cumsum(used, dtype=np.int64) - 1).astype(np.int32)  # increasing: rows stay sorted
    indices = matrix.indices.astype(np.int32, copy=False)
    for start in range(0, len(indices), TFIDF_CHUNK):  # a whole take would make 64-bit copies of every index
        piece = indices[start:start + TFIDF_CHUNK]
        piece[:] = number[piece]
    return sp.csr_matrix((matrix.data, indices, matrix.indptr), shape=(matrix.shape[0], max(int(used.sum()), 1)))


def _column_counts(indices: np.ndarray, columns: int) -> np.ndarray:
    """How many weights each column holds, in runs: a whole bincount would first copy every index to 64 bits."""
    counts = np.zeros(columns, dtype=np.int64)
    for start in range(0, len(indices), TFIDF_CHUNK):
        counts += np.bincount(indices[start:start + TFIDF_CHUNK], minlength=columns)
    return counts


def _idf(chunks: Sequence[sp.csr_matrix], columns: int) -> np.ndarray:
    """Smoothed IDF (scikit-learn's, in float32) of the rows of all the chunks together."""
    return _smoothed_idf(_document_frequency(chunks, columns), sum(chunk.shape[0] for chunk in chunks))


def _document_frequency(chunks: Sequence[sp.csr_matrix], columns: int) -> np.ndarray:
    """How many rows of the chunks hold each column (a CSR row holds a column at most once)."""
    frequency = np.zeros(columns, dtype=np.int64)
    batch: list[np.ndarray] = []
    for chunk in [*chunks, None]:  # many small chunks counted together: a bincount costs its columns too
        if batch and (chunk is None or sum(map(len, batch)) + chunk.nnz > TFIDF_CHUNK):
            frequency += _column_counts(np.concatenate(batch), columns)
            batch = []
        if chunk is not None:
            batch.append(chunk.indices)
    return frequency


def _smoothed_idf(frequency: np.ndarray, rows: int) -> np.ndarray:
    """IDF from each column's document frequency over ``rows`` texts, as scikit-learn smooths it (float32)."""
    idf = np.full(len(frequency), rows + 1, dtype=np.float32)
    idf /= frequency.astype(np.float32) + np.float32(1.0)
    np.log(idf, out=idf)
    idf += np.float32(1.0)
    return idf


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray | None = None) -> sp.csr_matrix:
    """Sublinear TF times smoothed IDF, rows L2-normalised (a text with no n-gram keeps a zero row).

    scikit-learn's ``TfidfTransformer(sublinear_tf=True)`` on float32 counts, operation for operation
    (float32 weights, row norms summed in float64, each weight divided in float64), but in place over
    the counts, a bounded run of weights at a time: no second copy of the matrix (the counts are consumed).
    ``idf``: weights fitted on more rows than these (`_idf`); by default, fitted on these."""
    if idf is None:
        idf = _idf([counts], counts.shape[1])
    data = counts.data.astype(np.float32, copy=False)
    indptr = counts.indptr
    for first, last in _row_runs(indptr):
        weight = data[indptr[first]:indptr[last]]
        np.log(weight, out=weight)
        weight += np.float32(1.0)
        weight *= idf[counts.indices[indptr[first]:indptr[last]]]
    return normalised(sp.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape))


def rowwise_cosine(matrix: sp.csr_matrix, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine of the row pairs (left[k], right[k]) of a normalised matrix, in bounded chunks.

    A chunk holds at most SCORE_CHUNK pairs and SCORE_WEIGHTS weights of their rows: both rows of every
    pair are copied out to be multiplied, and query vectors have hundreds of weights each (200k pairs of
    them were 1.2 GB)."""
    out = np.empty(len(left), dtype=np.float32)
    lengths = np.diff(matrix.indptr)
    weights = np.cumsum(lengths[left] + lengths[right])
    start = 0
    while start < len(left):
        before = int(weights[start - 1]) if start else 0
        stop = min(start + SCORE_CHUNK, max(start + 1, int(np.searchsorted(weights, before + SCORE_WEIGHTS, side="right"))))
        product = matrix[left[start:stop]].multiply(matrix[right[start:stop]])
        out[start:stop] = np.asarray(product.sum(axis=1)).ravel()
        start = stop
    return np.clip(out, 0.0, 1.0)


def _pair_scores(matrix: sp.csr_matrix | CombinedRows, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`rowwise_cosine`, building the rows first when ``matrix`` builds them on demand (each once)."""
    if not isinstance(matrix, CombinedRows):
        return rowwise_cosine(matrix, left, right)
    if not len(left):
        return np.empty(0, dtype=np.float32)
    needed, position = np.unique(np.concatenate([left, right]), return_inverse=True)
    position = position.ravel()
    return rowwise_cosine(matrix.rows(needed), position[:len(left)], position[len(left):])


@dataclass(frozen=True)
class PrefixIndex:
    """The rows cut to their rare prefixes, and what bounds the part of a dot product the cut leaves out.

    With features ranked globally (0 = the most common), row i's dropped tail is every feature ranked
    below ``cutoff[i]``. For two rows a, b with cutoff[a] <= cutoff[b], the features both prefixes keep
    are those ranked >= cutoff[b]; every other shared feature is in b's tail, so by Cauchy-Schwarz
    cos(a, b) <= prefix_dot(a, b) + |a restricted to ranks < cutoff[b]| * |tail of b|.
    That bound (`upper_bound`) needs only the prefix product's value and two lookups per pair.

    |a restricted to ranks < cutoff[b]| takes a search inside a's row. Most pairs are ruled out with a
    looser bound first: the cutoffs are rounded up to one of LEVELS ranks (quantiles of the cutoffs),
    and each row's norm below each level is computed once; a level at or above cutoff[b] covers every
    feature below cutoff[b], so the looser bound is still an upper bound.
    """

    prefix: sp.csr_matrix
    """Each row cut to its rare prefix (the common tail left out has squared weight below threshold²), with
    columns renumbered by rank: a permutation that leaves every dot product between prefix rows unchanged."""
    cutoff: np.ndarray
    """Lowest rank each row keeps (a row that keeps nothing: above every rank)."""
    tail_norm: np.ndarray
    ranks: np.ndarray
    """The rank of every weight of every row (rows in order, ranks ascending within a row)."""
    row_starts: np.ndarray
    """Where each row's weights start in `ranks` (CSR indptr)."""
    mass: np.ndarray
    """Cumulative squared weights in `ranks` order, with a leading 0."""
    level: np.ndarray
    """Per row, the first of the level ranks at or above its cutoff."""
    level_norm: np.ndarray
    """Per row and level: the norm of the row's weights ranked below that level (rows x levels, float32, rounded up)."""

    @classmethod
    def build(cls, matrix: sp.csr_matrix, threshold: float) -> PrefixIndex:
        # Every array below has one entry per weight (12M for a million-request log): each is built in place
        # and let go as soon as it is used, so no more than two are alive beside the ones kept.
        matrix = matrix.tocsr()
        rows, columns = matrix.shape
        frequency = _column_counts(matrix.indices, columns)
        order = np.lexsort((np.arange(columns), -frequency))  # most common first, ties by feature
        rank = np.empty(columns, dtype=np.int32)
        rank[order] = np.arange(columns, dtype=np.int32)
        del order, frequency
        ranked = sp.csr_matrix((matrix.data.astype(np.float32), rank[matrix.indices], matrix.indptr.copy()),
                               shape=matrix.shape)
        ranked.sort_indices()  # within each row: most common feature first
        lengths = np.diff(ranked.indptr)
        squares = ranked.data.astype(np.float64)
        squares *= squares
        mass = np.empty(len(squares) + 1, dtype=np.float64)
        mass[0] = 0.0
        np.cumsum(squares, out=mass[1:])
        del squares
        row_mass = mass[ranked.indptr[:-1]]
        running = np.repeat(row_mass, lengths)
        np.subtract(mass[1:], running, out=running)
        tail = running < threshold**2 - BOUND_SLACK  # a run at the start of each row
        del running
        tail_before = np.zeros(len(tail) + 1, dtype=np.int64)
        np.cumsum(tail, out=tail_before[1:])
        tail_lengths = tail_before[ranked.indptr[1:]] - tail_before[ranked.indptr[:-1]]
        del tail_before
        first_kept = ranked.indptr[:-1] + tail_lengths
        keeps = tail_lengths < lengths
        cutoff = np.full(rows, columns, dtype=np.int64)
        cutoff[keeps] = ranked.indices[first_kept[keeps]]
        tail_norm = np.sqrt(np.maximum(mass[first_kept] - row_mass, 0.0))
        kept = ~tail
        kept &= ranked.data != 0  # as eliminate_zeros would
        del tail
        kept_before = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum(kept, out=kept_before[1:])
        prefix = sp.csr_matrix((ranked.data[kept], ranked.indices[kept], kept_before[ranked.indptr]), shape=matrix.shape)
        del kept, kept_before
        row_starts = ranked.indptr.astype(np.int64)
        level, level_norm = _levels(ranked.indices, row_starts, mass, cutoff, columns)
        return cls(prefix, cutoff, tail_norm, ranked.indices, row_starts, mass, level, level_norm)

    def upper_bound(self, left: np.ndarray, right: np.ndarray, prefix_dot: np.ndarray,
                    needed: float = -np.inf) -> np.ndarray:
        """An upper bound of each pair's dot product, given the dot product of their prefixes.

        The level bound first (two lookups); the pairs whose bound still reaches ``needed`` get the
        tight one (a search inside a's row). A bound below ``needed`` may be the looser one.
        """
        left_first = self.cutoff[left] <= self.cutoff[right]
        a = np.where(left_first, left, right)
        b = np.where(left_first, right, left)
        tail_b = self.tail_norm[b]
        bound = prefix_dot.astype(np.float64) + self.level_norm[a, self.level[b]] * tail_b
        tighten = np.flatnonzero(bound >= needed)
        a, b = a[tighten], b[tighten]
        start = self.row_starts[a]
        below = self._first_at_or_above(start, self.row_starts[a + 1], self.cutoff[b])
        a_below = np.sqrt(np.maximum(self.mass[below] - self.mass[start], 0.0))
        bound[tighten] = prefix_dot[tighten].astype(np.float64) + a_below * tail_b[tighten]
        return bound

    def _first_at_or_above(self, low: np.ndarray, high: np.ndarray, rank: np.ndarray) -> np.ndarray:
        """Per pair: the first position in [low, high) of `ranks` holding a rank >= ``rank`` (else high).

        A binary search inside each row, all pairs at once: rows are short, so a handful of steps
        touch a few cache lines each, where one search over every row's weights would touch many.
        """
        low, high = low.copy(), high.copy()
        while True:
            open_ = low < high
            if not open_.any():
                return low
            middle = (low + high) // 2
            below = np.zeros(len(low), dtype=bool)
            below[open_] = self.ranks[middle[open_]] < rank[open_]
            low = np.where(open_ & below, middle + 1, low)
            high = np.where(open_ & ~below, middle, high)


def _levels(ranks: np.ndarray, row_starts: np.ndarray, mass: np.ndarray, cutoff: np.ndarray,
            columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(each row's level: the first level rank >= its cutoff; each row's norm below each level, rounded up)."""
    rows = len(cutoff)
    kept = cutoff[cutoff < columns]
    ladder = np.unique(np.quantile(kept, np.linspace(0.0, 1.0, LEVELS)).astype(np.int64)) if len(kept) else \
        np.empty(0, dtype=np.int64)
    ladder = np.append(ladder, columns)  # the last level: above every rank (the whole row)
    level = np.searchsorted(ladder, cutoff, side="left")
    # Rows in order, ranks ascending within a row: row * (columns + 1) + rank is sorted throughout.
    span = np.int64(columns + 1)
    keys = np.repeat(np.arange(rows, dtype=np.int64), np.diff(row_starts))
    keys *= span
    keys += ranks
    needles = (np.arange(rows, dtype=np.int64)[:, None] * span + ladder[None, :]).ravel()
    positions = np.searchsorted(keys, needles, side="left").reshape(rows, len(ladder))
    squared = np.maximum(mass[positions] - mass[row_starts[:-1]][:, None], 0.0)
    # float32 rounded up (nextafter): the stored norm is never below the true one.
    norm = np.sqrt(squared).astype(np.float32)
    return level, np.nextafter(norm, np.float32(np.inf))


@dataclass(frozen=True)
class PairSet:
    """Row pairs (earlier, later) of the same scope with cosine >= the search threshold."""

    earlier: np.ndarray
    later: np.ndarray
    cosine: np.ndarray
    candidates: int
    """Pairs that passed the prefix filter, its bound and the screen, and were scored exactly."""
    prefix_candidates: int = 0
    """Pairs sharing a prefix feature, before the bound."""


def similar_pairs(matrix: sp.csr_matrix | CombinedRows, scope_starts: np.ndarray, first_seen: np.ndarray,
                  last_seen: np.ndarray, threshold: float, horizon: float = np.inf,
                  screen: sp.csr_matrix | None = None, screen_threshold: float | None = None,
                  rows: np.ndarray | None = None) -> PairSet:
    """Every pair of rows in one scope whose cosine is >= threshold and whose times can meet.

    Rows are grouped by scope (``scope_starts``: the first row of each scope, ascending) and,
    within a scope, sorted by ``first_seen``. A pair (i < j) is kept when the earlier row was
    last seen no more than ``horizon`` before the later row was first seen (both in seconds),
    a necessary condition for one to be in the other's cache window.

    ``screen``: a sparser matrix whose cosine is >= ``screen_threshold`` for every pair at
    ``threshold`` in ``matrix`` (the word part, see `TfidfQueryEncoder.encode_parts`):
    candidates are found and first scored on it, then scored exactly on ``matrix``.

    ``rows``: the row of ``matrix`` that holds each item, when items share rows (one text in several
    scopes): the exact scores read those rows, and no per-item copy of ``matrix`` is made (with a
    screen; without one, the prefix filter needs the items' own rows). Row numbers in the result,
    ``scope_starts``, the times and ``screen`` are the items'.
    """
    items = len(first_seen)
    screened = screen is not None and screen_threshold is not None
    if screen is None or screen_threshold is None:
        if isinstance(matrix, CombinedRows):
            raise ValueError("rows built on demand are only scored: the candidates need a screen")
        screen = matrix if rows is None else sp.csr_matrix(matrix[rows])
        screen_threshold = threshold
    row_of = (lambda item: item) if rows is None else (lambda item: rows[item])  # noqa: E731
    index = PrefixIndex.build(screen, screen_threshold)
    prefix = index.prefix
    floor = screen_threshold - SCORE_SLACK

    def score_block(block_start: int, block_stop: int, window_start: int) -> tuple[np.ndarray, ...]:
        """(earlier, later, cosine, candidates, prefix candidates) of one block of rows against its window."""
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        counts = np.zeros(2, dtype=np.int64)
        block = prefix[block_start:block_stop]
        for column_start in range(window_start, block_stop, WINDOW_COLUMNS):
            column_stop = min(column_start + WINDOW_COLUMNS, block_stop)
            product = (block @ prefix[column_start:column_stop].T).tocoo()
            left = product.col.astype(np.int64) + column_start
            right = product.row.astype(np.int64) + block_start
            usable = (left < right) & (last_seen[left] >= first_seen[right] - horizon)
            left, right = left[usable], right[usable]
            counts[1] += len(left)
            possible = index.upper_bound(left, right, product.data[usable], needed=floor) >= floor
            left, right = left[possible], right[possible]
            if screened:
                passed = rowwise_cosine(screen, left, right) >= screen_threshold - 1e-6
                left, right = left[passed], right[passed]
            counts[0] += len(left)
            scores = _pair_scores(matrix, row_of(left), row_of(right))
            close = scores >= threshold
            found.append((left[close], right[close], scores[close]))
        return *(np.concatenate([f[k] for f in found]) for k in range(3)), counts

    blocks = []
    bounds = np.append(scope_starts, items).astype(np.int64)
    for scope_start, scope_stop in zip(bounds[:-1], bounds[1:], strict=True):
        if scope_stop - scope_start < 2:
            continue  # a scope of one row has no pair (most scopes: one question about one set of documents)
        # The earliest row of the scope still seen at or after a given time: a running maximum of last_seen.
        reach = np.maximum.accumulate(last_seen[scope_start:scope_stop])
        for block_start in range(int(scope_start), int(scope_stop), BLOCK_ROWS):
            oldest = first_seen[block_start] - horizon
            window_start = int(scope_start) + int(np.searchsorted(reach, oldest, side="left"))
            blocks.append((block_start, min(block_start + BLOCK_ROWS, int(scope_stop)), window_start))
    # The sparse products and numpy release the GIL for much of their work: blocks run on every core, in
    # threads sharing the index, and come back in order (the same pairs in the same order as one loop).
    results = ordered_map(lambda task: score_block(*task), blocks)
    earlier = [r[0] for r in results]
    later = [r[1] for r in results]
    cosine = [r[2] for r in results]
    candidates = int(sum(r[3][0] for r in results))
    prefix_candidates = int(sum(r[3][1] for r in results))
    if not earlier:
        empty = np.empty(0, dtype=np.int64)
        return PairSet(empty, empty, np.empty(0, dtype=np.float32), 0, prefix_candidates)
    return PairSet(np.concatenate(earlier), np.concatenate(later), np.concatenate(cosine), candidates,
                   prefix_candidates)
