"""Property tests: every reader fed junk never raises, and every record is accounted for."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmaudit.errors import InputError
from llmaudit.ingest.container import iter_records
from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.registry import readers
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder

# Field names the readers look for, so junk reaches deep into their parsing.
VOCABULARY = [
    "id", "custom_id", "url", "body", "response", "error", "request", "usage", "model", "messages", "choices",
    "prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "cached_tokens", "created",
    "timestamp", "type", "message", "result", "params", "usageMetadata", "promptTokenCount", "candidatesTokenCount",
    "thoughtsTokenCount", "schemaType", "input", "output", "inputTokenCount", "outputTokenCount", "modelId",
    "metadata", "spend", "startTime", "request_id", "request_body", "response_body", "cost", "sessionId",
    "requestId", "payload", "info", "last_token_usage", "status_code", "content", "role", "tools", "data",
    "usageDetails", "calculatedTotalCost", "generation_id", "tokens_prompt", "object", "status", "results",
    "cache_read_input_tokens", "cache_creation_input_tokens", "prompt_tokens_details", "reasoning_tokens",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**40), max_value=2**62), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["2025-09-01T10:00:00Z", "1970-01-01", "gpt-4o", "assistant", "succeeded", "-1"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(VOCABULARY), children, max_size=6),
    max_leaves=25,
)
records = st.lists(st.dictionaries(st.sampled_from(VOCABULARY), json_values, max_size=8), min_size=1, max_size=8)


def _ingest(reader_name: str, path: Path) -> None:
    reader = readers()[reader_name]
    ingestor = Ingestor(TableBuilder(), forced_reader=reader)
    try:
        ingestor.read_file(SourceFile(path.name, path))
    except InputError as exc:
        # A file that cannot be read at all (a gzip header and nothing else) is a clear file-level error.
        assert "junk" in str(exc)
        return
    report = ingestor.finish()
    assert report.records_read == report.requests + report.duplicates + report.rejected


@pytest.mark.parametrize("reader_name", sorted(readers()))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=records)
def test_reader_survives_junk_records(reader_name: str, batch: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.jsonl"
        path.write_text("\n".join(json.dumps(r, default=str) for r in batch) + "\n")
        _ingest(reader_name, path)


@pytest.mark.parametrize("reader_name", sorted(readers()))
@settings(max_examples=40, deadline=None)
@given(raw=st.binary(max_size=400))
def test_reader_survives_junk_bytes(reader_name: str, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.bin"
        path.write_bytes(raw)
        _ingest(reader_name, path)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=600), kind=st.sampled_from(["jsonl", "json", "csv"]))
def test_container_never_raises(raw: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk"
        path.write_bytes(raw)
        for line, record in iter_records(SourceFile("junk", path), kind):
            assert line >= 1
            assert isinstance(record, dict) or hasattr(record, "reason")


def test_a_line_cut_inside_a_string_is_said_to_be_truncated(tmp_path: Path) -> None:
    """The decoder reads each line with its line end; a line cut short is still explained as cut, not as a
    stray newline, whatever the line ending and wherever the line is."""
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b'{"a": 1}\n{"model": "gpt-4o\n{"b": "x\r\n{"c": 2}\n{"d": "last')
    records = list(iter_records(SourceFile(path.name, path), "jsonl"))
    assert [line for line, _ in records] == [1, 2, 3, 4, 5]
    assert [getattr(r, "reason", None) for _, r in records] == [
        None, "invalid JSON: Input data was truncated", "invalid JSON: Input data was truncated", None,
        "invalid JSON: Input data was truncated"]
