"""Format detection: every reader's sniff, and what a few bad records do to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmaudit.ingest.interface import PARTIAL_CONFIDENCE, share_confidence
from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.registry import detect
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder
from tests.nasty import corpus


def test_share_confidence() -> None:
    assert share_confidence(25, 25, 95) == 95
    assert share_confidence(1, 2, 95) == PARTIAL_CONFIDENCE
    assert share_confidence(13, 25, 95) == PARTIAL_CONFIDENCE
    assert share_confidence(12, 25, 95) == 0
    assert share_confidence(0, 0, 95) == 0


@pytest.mark.parametrize("variant", [v for v in corpus.VARIANTS if v.container == "jsonl" and not v.context and not v.args],
                         ids=lambda v: v.name)
def test_one_good_record_beside_one_broken_one_is_read(variant: corpus.Variant, tmp_path: Path) -> None:
    """Two records, the second of the wrong shape: the file is still detected, the good one read, the other rejected."""
    seed = corpus.load_seed(variant)
    good, broken = seed.copy_of(1), {"request": [], "response": "broken", "type": 7, "payload": None}
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(broken) + "\n")
    reader, _ = detect(SourceFile(path.name, path))
    assert reader.name == variant.reader
    ingestor = Ingestor(TableBuilder())
    ingestor.read_file(SourceFile(path.name, path))
    report = ingestor.finish()
    assert (report.records_read, report.requests, report.rejected + report.skipped) == (2, 1, 1), report
