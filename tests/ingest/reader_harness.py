"""What the reader tests share: reading an asset record by record, and junk-mutated records."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from llmaudit.ingest.container import detect_kind, iter_records
from llmaudit.ingest.records import Parsed, Rejection
from llmaudit.ingest.registry import detect
from llmaudit.ingest.source import SourceFile

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**12) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
"""Any JSON-like value, including the wrong types, negatives, NaN and huge numbers."""


def read_outputs(path: Path, expected_reader: str) -> list[tuple[int, list[Parsed]]]:
    """Detect the file (asserting the reader chosen), then parse it record by record: (line, outputs)."""
    source = SourceFile(name=path.name, path=path)
    reader, found = detect(source)
    assert reader.name == expected_reader
    out: list[tuple[int, list[Parsed]]] = []
    for line, record in iter_records(source, found.kind):
        produced = [record] if isinstance(record, Rejection) else list(reader.parse(iter([(line, record)])))
        assert produced, f"line {line} gave no output"
        out.append((line, produced))
    return out


def read_each(path: Path, expected_reader: str) -> list[Parsed]:
    """Like `read_outputs`, for formats where every record must yield exactly one output."""
    outputs: list[Parsed] = []
    for line, produced in read_outputs(path, expected_reader):
        assert len(produced) == 1, f"line {line} gave {len(produced)} outputs"
        outputs.append(produced[0])
    return outputs


def asset_records(path: Path) -> list[dict[str, Any]]:
    """The decodable records of an asset file, for mutation."""
    source = SourceFile(name=path.name, path=path)
    return [r for _, r in iter_records(source, detect_kind(source.head())) if isinstance(r, dict)]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated_records(draw: st.DrawFn, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A real record with one field, at any depth, replaced by junk."""
    record = copy.deepcopy(draw(st.sampled_from(records)))
    path = draw(st.sampled_from(_paths(record)))
    node = record
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = draw(JUNK)
    return record
