"""Running the real CLI in-process on corpus files, and the checks every run must pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmaudit.cli import app


@dataclass
class Run:
    """One `llmaudit analyze` run: exit code, everything printed, and audit.json if written."""

    exit_code: int
    output: str
    audit: dict[str, Any] | None
    json_path: Path


Invoke = Callable[..., Run]


def invoke_cli(args: list[str], json_path: Path, *, db: str = ":memory:", quiet: bool = True) -> Run:
    """`llmaudit analyze ARGS --json PATH --db DB [-q]` in-process."""
    json_path.unlink(missing_ok=True)
    command = ["analyze", *args, "--json", str(json_path), "--db", db, *(["-q"] if quiet else [])]
    result = CliRunner().invoke(app, command, env={"COLUMNS": "200"})
    audit = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else None
    return Run(result.exit_code, result.output, audit, json_path)


@pytest.fixture
def fast_levers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the savings levers: the corpus matrix is about ingestion, and ~300 runs must stay fast.

    The levers still see every nasty input in `test_every_nasty_file_at_once_with_levers`.
    """
    monkeypatch.setattr("llmaudit.analyses.registry.run_levers_in_two_steps", lambda early, late, counts_done=None: [])


def assert_clean_run(run: Run, files: list[Path]) -> dict[str, Any]:
    """No traceback, a written audit.json, the reconciliation, and every rejection naming file, line and reason."""
    assert "Traceback" not in run.output, run.output
    assert "internal error" not in run.output, run.output
    assert run.exit_code == 0, run.output
    assert run.audit is not None, run.output
    ingest = run.audit["ingest"]
    assert ingest["records_read"] == ingest["requests"] + ingest["duplicates"] + ingest["rejected"], ingest
    names = {str(path) for path in files}
    assert len(ingest["rejects"]) == min(ingest["rejected"], 1000)
    for reject in ingest["rejects"]:
        assert reject["file"] in names, reject
        assert isinstance(reject["line"], int) and reject["line"] >= 1, reject
        assert isinstance(reject["reason"], str) and reject["reason"].strip(), reject
    assert not ingest["unrecognised_files"], ingest["unrecognised_files"]
    return ingest


def assert_one_line_error(run: Run, file: Path, contains: str) -> None:
    """A file-level failure: exit 2 and one line naming the file and the problem, no traceback."""
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert len(lines) == 1, run.output
    assert str(file) in lines[0] and contains in lines[0], run.output
