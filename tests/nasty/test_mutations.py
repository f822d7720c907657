"""Property tests: real files of every format, damaged at random places, never break ingestion.

The corpus pins one mutation at one place per case; here hypothesis picks the damage and
where it lands (inside a number, a key, a CSV quote, a compressed block...). Whatever it
does, the file is read or refused with one clear error, and every record is accounted for.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmaudit.errors import InputError
from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.registry import readers
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder
from tests.nasty import corpus

DAMAGE = st.sampled_from([
    b"", b"\x00", b"\xff\xfe", b"\r\n", b"\n", b'"', b",", b"{", b"]", b"\\", b"\xef\xbb\xbf", b"-1", b"1e400",
    b"NaN", b'{"a":' * 50, b"\xe2\x80", b"\t",
])


def _seed_bytes(variant: corpus.Variant) -> bytes:
    seed = corpus.load_seed(variant)
    return corpus.serialise(seed, corpus.copies(seed, count=3))[0]


SEEDS = {variant.name: _seed_bytes(variant) for variant in corpus.VARIANTS if not variant.args}


def _ingest(path: Path) -> None:
    ingestor = Ingestor(TableBuilder())
    try:
        ingestor.read_file(SourceFile(path.name, path))
    except InputError as exc:
        assert path.name in str(exc) and "\n" not in str(exc)
        return
    report = ingestor.finish()
    assert report.records_read == report.requests + report.duplicates + report.rejected
    for reject in report.rejects:
        assert reject.line >= 1 and reject.reason.strip()
    rows = ingestor.builder.requests_frame()
    if rows.height:
        assert rows.get_column("input_tokens").min() >= 0  # type: ignore[operator]
        assert rows.get_column("input_tokens").max() <= 50_000_000  # type: ignore[operator]


@pytest.mark.parametrize("name", sorted(SEEDS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), edits=st.integers(min_value=1, max_value=3), compress=st.booleans())
def test_damaged_real_file_is_read_or_refused_clearly(name: str, data: st.DataObject, edits: int, compress: bool) -> None:
    raw = bytearray(SEEDS[name])
    for _ in range(edits):
        start = data.draw(st.integers(min_value=0, max_value=len(raw)))
        length = data.draw(st.integers(min_value=0, max_value=8))
        raw[start:start + length] = data.draw(DAMAGE)
    payload = bytes(raw)
    if compress:
        packed = gzip.compress(payload, mtime=0)
        payload = packed[: data.draw(st.integers(min_value=len(packed) // 2, max_value=len(packed)))]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{'.gz' if compress else ''}"
        path.write_bytes(payload)
        _ingest(path)


def test_every_registered_reader_is_in_the_corpus() -> None:
    """A new reader must bring a real record to the corpus (tests/assets) before it ships."""
    assert {variant.reader for variant in corpus.VARIANTS} >= set(readers()) | {"generic"}
