"""Shared fixtures: paths to the real shared data and a runner for the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmaudit.cli import app

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).resolve().parent / "assets"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the checkout (real exported logs)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run `llmaudit analyze ...` in-process; returns (exit code, output, audit.json dict or None)."""

    def run(*args: str, json_name: str = "audit.json") -> tuple[int, str, dict | None]:
        out = tmp_path / json_name
        result = CliRunner().invoke(app, ["analyze", *args, "--json", str(out), "--db", str(tmp_path / "store.duckdb")])
        data = json.loads(out.read_text()) if out.exists() else None
        return result.exit_code, result.output, data

    return run
