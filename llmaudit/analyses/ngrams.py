"""Hashed n-gram counts of many texts at once, as CSR matrices (one row per text).

The features of scikit-learn's `HashingVectorizer` with ``analyzer="word"`` (lower-cased tokens
of two or more word characters, then n-grams of them joined by a space) and ``analyzer="char_wb"``
(character n-grams inside each whitespace-separated word padded with one space on each side),
computed column-wise: words by polars in Rust, character windows by numpy over the texts' code
points. Scikit-learn builds a Python list of every n-gram and hashes them one by one; here no
per-n-gram Python object exists. Bucket numbers differ from scikit-learn's (another hash), so do
collisions, by design rare. Known differences, none of which the encoder's settings (word 1-2,
char 3-5) meet except the first: the Rust regex counts combining marks as word characters, so a
word with a combining accent ("naïve" decomposed, Devanagari) stays one token where Python's
splits it; a padded word shorter than the smallest n gives no n-gram here (scikit-learn emits it
whole once; with n >= 3 no padded word is that short); a NUL character ends a word.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl
import scipy.sparse as sp

from llmaudit.cores import ordered_map
from llmaudit.heap import return_free_memory

CHUNK_CHARS = 500_000
"""Characters hashed at once: bounds the temporaries (about 40 bytes per character and n)."""
WORD_CHUNK_CHARS = 1_000_000
"""Characters split into words at once (polars works best on runs this long)."""
WORD_PATTERN = r"\b\w\w+\b"
"""scikit-learn's default token pattern."""
SEED = 0x9E3779B97F4A7C15
FNV_PRIME = np.uint64(0x100000001B3)
MIX = np.uint64(0xBF58476D1CE4E5B9)


def char_wb_counts(texts: Sequence[str], ngrams: tuple[int, int], bits: int, window: int) -> sp.csr_matrix:
    """Counts of character n-grams within padded words, of each text's first ``window`` characters.

    Shape (len(texts), 2**bits). A NUL character inside a text ends a word (it is the separator).
    """
    return stacked(char_wb_chunks(texts, ngrams, bits, window), 1 << bits)


def char_wb_chunks(texts: Sequence[str], ngrams: tuple[int, int], bits: int, window: int) -> list[sp.csr_matrix]:
    """`char_wb_counts` as consecutive runs of rows (CHUNK_CHARS characters each), for callers that
    transform the runs one at a time instead of holding two copies of every count."""
    return [chunk for batch in char_wb_batches(texts, ngrams, bits, window, len(texts) or 1) for chunk in batch]


def char_wb_batches(texts: Sequence[str], ngrams: tuple[int, int], bits: int, window: int,
                    runs: int) -> Iterator[list[sp.csr_matrix]]:
    """`char_wb_chunks` ``runs`` chunks at a time, each batch made when the previous one has been used:
    for callers that reduce the counts (a document frequency) without keeping them."""
    spans = _runs(texts, CHUNK_CHARS, window)
    for first in range(0, len(spans), runs):
        # numpy releases the GIL for most of a chunk's work: chunks run on every core, in threads, in order.
        yield ordered_map(lambda span: _char_chunk(texts[span[0]:span[1]], ngrams, bits, window), spans[first:first + runs])


def _runs(texts: Sequence[str], chars: int, window: int | None = None) -> list[tuple[int, int]]:
    """(start, stop) runs of texts of about ``chars`` characters each (each text cut at ``window``)."""
    runs = []
    start = 0
    while start < len(texts):
        stop, total = start, 0
        while stop < len(texts) and (stop == start or total < chars):
            total += (len(texts[stop]) if window is None else min(len(texts[stop]), window)) + 2
            stop += 1
        runs.append((start, stop))
        start = stop
    return runs


def stacked(chunks: list[sp.csr_matrix], columns: int) -> sp.csr_matrix:
    """The chunks' rows as one matrix, each chunk let go once copied (never two copies of every count).

    The list is emptied. The result's pages are only written as the chunks are copied in, so the peak
    is one copy and one chunk."""
    if len(chunks) <= 1:
        return chunks.pop() if chunks else sp.csr_matrix((0, columns), dtype=np.float32)
    total = sum(chunk.nnz for chunk in chunks)
    rows = sum(chunk.shape[0] for chunk in chunks)
    data = np.empty(total, dtype=np.float32)
    indices = np.empty(total, dtype=np.int32)
    indptr = np.zeros(rows + 1, dtype=np.int64)
    filled = row = 0
    while chunks:
        chunk = chunks.pop(0)
        data[filled:filled + chunk.nnz] = chunk.data
        indices[filled:filled + chunk.nnz] = chunk.indices
        indptr[row + 1:row + 1 + chunk.shape[0]] = chunk.indptr[1:] + filled
        filled += chunk.nnz
        row += chunk.shape[0]
        del chunk
        return_free_memory()  # the chunk's memory, for the next pages of the result
    return sp.csr_matrix((data, indices, indptr), shape=(rows, columns))


def _char_chunk(texts: Sequence[str], ngrams: tuple[int, int], bits: int, window: int) -> sp.csr_matrix:
    # " w1 \0 w2 \0" per text: each word padded by spaces, NUL between words and after each text.
    pieces = [" " + " \0 ".join(text[:window].lower().split()) + " \0" for text in texts]
    row_of = np.repeat(np.arange(len(pieces), dtype=np.int64), [len(piece) for piece in pieces])
    points = np.frombuffer("".join(pieces).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    # The n-gram starting at i, for n = 1, 2, ...: extended by one character per round, in place.
    inside = points != 0
    digest = (points ^ np.uint64(SEED)) * FNV_PRIME
    keys = [_key(row_of[inside], _bucket(digest[inside], bits), bits)] if ngrams[0] <= 1 else []
    for n in range(2, ngrams[1] + 1):
        count = len(points) - n + 1
        if count <= 0:
            break
        inside = inside[:count]
        inside &= points[n - 1:] != 0
        digest = digest[:count]
        np.bitwise_xor(digest, points[n - 1:], out=digest)
        np.multiply(digest, FNV_PRIME, out=digest)
        if n >= ngrams[0]:
            position = np.flatnonzero(inside)
            keys.append(_key(row_of[position], _bucket(digest[position], bits), bits))
    return _counts(keys, len(texts), bits)


def word_counts(texts: Sequence[str], ngrams: tuple[int, int], bits: int) -> sp.csr_matrix:
    """Counts of word n-grams (lower-cased tokens of 2+ word characters), shape (len(texts), 2**bits).

    A run of about WORD_CHUNK_CHARS characters at a time: every token is a string while its run is
    counted (answers of a million-request log: 1.3 GB of them at once)."""
    return stacked([_word_chunk(texts[start:stop], ngrams, bits) for start, stop in _runs(texts, WORD_CHUNK_CHARS)],
                   1 << bits)


def _word_chunk(texts: Sequence[str], ngrams: tuple[int, int], bits: int) -> sp.csr_matrix:
    tokens = (
        pl.DataFrame({"text": pl.Series(list(texts), dtype=pl.String)})
        .with_row_index("row")
        .select("row", token=pl.col("text").str.to_lowercase().str.extract_all(WORD_PATTERN))
        .explode("token")
        .drop_nulls("token")
    )
    grams = []
    for n in range(ngrams[0], ngrams[1] + 1):
        if n == 1:
            grams.append(tokens)
            continue
        # An n-gram starts at every token followed by n-1 tokens of the same text.
        joined = pl.concat_str([pl.col("token").shift(-k) for k in range(n)], separator=" ")
        grams.append(tokens.select("row", token=joined, last_row=pl.col("row").shift(-(n - 1)))
                     .filter(pl.col("last_row") == pl.col("row")).drop("last_row"))
    if not grams:
        return sp.csr_matrix((len(texts), 1 << bits), dtype=np.float32)
    hashed = pl.concat(grams).select("row", digest=pl.col("token").hash(SEED % 2**64))
    keys = [_key(hashed.get_column("row").to_numpy().astype(np.int64),
                 _bucket(hashed.get_column("digest").to_numpy(), bits), bits)]
    return _counts(keys, len(texts), bits)


def _bucket(digest: np.ndarray, bits: int) -> np.ndarray:
    mixed = (digest ^ (digest >> np.uint64(29))) * MIX
    return mixed >> np.uint64(64 - bits)


def _key(row: np.ndarray, bucket: np.ndarray, bits: int) -> np.ndarray:
    return (row.astype(np.uint64) << np.uint64(bits)) | bucket


def _counts(keys: list[np.ndarray], rows: int, bits: int) -> sp.csr_matrix:
    """CSR counts from (row << bits | bucket) keys; sorting them sorts rows and, within a row, columns."""
    key = np.sort(np.concatenate(keys)) if keys else np.empty(0, dtype=np.uint64)
    if not len(key):
        return sp.csr_matrix((rows, 1 << bits), dtype=np.float32)
    first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    counts = np.diff(np.append(first, len(key))).astype(np.float32)
    unique = key[first]
    row = (unique >> np.uint64(bits)).astype(np.int64)
    column = (unique & np.uint64((1 << bits) - 1)).astype(np.int32)
    indptr = np.searchsorted(row, np.arange(rows + 1, dtype=np.int64)).astype(np.int64)
    return sp.csr_matrix((counts, column, indptr), shape=(rows, 1 << bits))
