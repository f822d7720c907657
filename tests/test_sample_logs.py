"""sample_logs/: the seeded generator is deterministic, and the committed logs are what it makes."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.source import expand_inputs
from llmaudit.table import TableBuilder

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"
GENERATOR = SAMPLE_LOGS / "generate.py"
NOT_LOGS = {"generate.py", "README.md"}
EXPECTED_FORMATS = {
    "openai_proxy.jsonl.gz": "openai_chat",
    "anthropic_messages.jsonl.gz": "anthropic_messages",
    "litellm_spend_logs.csv.gz": "litellm_spendlogs",
    "nightly_batch_input.jsonl": "openai_batch",
    "nightly_batch_output.jsonl": "openai_batch",
}


def _generate(out: Path, hash_seed: str) -> dict[str, bytes]:
    """Run the generator in a fresh interpreter (its own string-hash seed) and read what it wrote."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, str(GENERATOR), "--seed", "7", "--out", str(out)], check=True, env=env,
                   capture_output=True)
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def _content(data: bytes) -> bytes:
    """The bytes a log holds (decompressed), so zlib versions do not matter."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One generation with the default seed."""
    return _generate(tmp_path_factory.mktemp("fresh"), hash_seed="1")


def test_generator_is_deterministic(fresh: dict[str, bytes], tmp_path: Path) -> None:
    again = _generate(tmp_path, hash_seed="2")
    assert sorted(again) == sorted(fresh) == sorted(EXPECTED_FORMATS)
    for name, data in fresh.items():
        assert again[name] == data, f"{name} differs between two runs with seed 7"


def test_committed_logs_equal_a_fresh_generation(fresh: dict[str, bytes]) -> None:
    committed = {p.name for p in SAMPLE_LOGS.iterdir() if p.is_file() and p.name not in NOT_LOGS}
    assert committed == set(fresh), "sample_logs/ holds other files than the generator writes"
    for name, data in fresh.items():
        assert _content((SAMPLE_LOGS / name).read_bytes()) == _content(data), (
            f"sample_logs/{name} is stale: run python sample_logs/generate.py and commit the result"
        )


def test_sample_logs_ingest_with_only_the_planted_rejections() -> None:
    ingestor = Ingestor(TableBuilder())
    for source in expand_inputs([str(SAMPLE_LOGS)]):
        ingestor.read_file(source)
    report = ingestor.finish()
    assert report.balanced
    assert {Path(f.file).name: f.format for f in report.files} == EXPECTED_FORMATS
    assert {Path(f.file).name for f in report.unrecognised_files} <= NOT_LOGS
    assert [(Path(r.file).name, r.reason.split(":")[0]) for r in sorted(report.rejects, key=lambda r: r.line)] == [
        ("openai_proxy.jsonl.gz", "timestamp 1970-01-01 is before 2015"),
        ("openai_proxy.jsonl.gz", "completion_tokens is negative"),
        ("openai_proxy.jsonl.gz", "invalid JSON"),
    ]
    assert 3000 <= report.requests <= 5000
