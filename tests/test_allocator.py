"""polars' allocator settings: bounded by default, freed pages kept longer for an input known to be small."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmaudit import allocator

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """As before polars loads, with the package's default set and no value of the user's."""
    monkeypatch.setattr(allocator, "_user_set", False)
    monkeypatch.setenv(allocator.VARIABLE, allocator.BOUNDED)
    monkeypatch.delitem(sys.modules, "polars", raising=False)
    return monkeypatch


def test_a_small_input_keeps_freed_pages_longer(fresh: pytest.MonkeyPatch) -> None:
    assert allocator.choose_for_input(allocator.LARGE_INPUT_BYTES - 1)
    assert os.environ[allocator.VARIABLE] == allocator.RETAINING


@pytest.mark.parametrize("size", [allocator.LARGE_INPUT_BYTES, 10 * allocator.LARGE_INPUT_BYTES, None])
def test_a_large_or_unknown_input_keeps_the_bounded_settings(fresh: pytest.MonkeyPatch, size: int | None) -> None:
    assert not allocator.choose_for_input(size)
    assert os.environ[allocator.VARIABLE] == allocator.BOUNDED


def test_the_users_value_wins(fresh: pytest.MonkeyPatch) -> None:
    fresh.setattr(allocator, "_user_set", True)
    fresh.setenv(allocator.VARIABLE, "narenas:2")
    assert not allocator.choose_for_input(1_000)
    assert os.environ[allocator.VARIABLE] == "narenas:2"


def test_nothing_changes_once_polars_has_loaded(fresh: pytest.MonkeyPatch) -> None:
    fresh.setitem(sys.modules, "polars", object())
    assert not allocator.choose_for_input(1_000)
    assert os.environ[allocator.VARIABLE] == allocator.BOUNDED


@pytest.mark.parametrize(("inputs", "expected"), [
    ([str(SAMPLE_LOGS)], "RETAINING"), ([str(SAMPLE_LOGS / "*.jsonl")], "BOUNDED"), ([], "BOUNDED"),
])
def test_the_command_line_chooses_before_polars_loads(inputs: list[str], expected: str, tmp_path: Path) -> None:
    """What jemalloc reads is the environment when polars loads: the last value of each setting wins (polars
    puts its own first)."""
    probe = (
        "import os, sys\n"
        "sys.argv = ['llmaudit', 'analyze', *sys.argv[2:], '--db', ':memory:', '-q', '--json', sys.argv[1]]\n"
        "from llmaudit.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(os.environ['_RJEM_MALLOC_CONF'])\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != allocator.VARIABLE}
    shown = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "audit.json"), *inputs], env=environment,
                           capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert shown.endswith(getattr(allocator, expected))
