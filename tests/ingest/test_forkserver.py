"""The fork server starts early only when the named inputs will be read on several cores."""

from __future__ import annotations

import multiprocessing.forkserver
from pathlib import Path

import pytest

from llmaudit.ingest import forkserver


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(multiprocessing.forkserver, "ensure_running", lambda: calls.append(1))
    monkeypatch.setattr(forkserver, "available_cores", lambda: 2)
    return calls


def _start(specs: list[str]) -> bool:
    """`start_early` as the command line calls it, on the size of ``specs``."""
    return forkserver.start_early(forkserver.input_size(specs, forkserver.PARALLEL_MIN_BYTES)[0])


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_a_big_file_or_folder_starts_the_server(tmp_path: Path, starts: list[int]) -> None:
    (tmp_path / "logs").mkdir()
    big = _sparse(tmp_path / "logs" / "big.jsonl", forkserver.PARALLEL_MIN_BYTES)
    assert _start([str(big)]) and len(starts) == 1
    assert _start([str(tmp_path / "logs")]) and len(starts) == 2


def test_small_unknown_or_missing_inputs_do_not(tmp_path: Path, starts: list[int]) -> None:
    small = _sparse(tmp_path / "small.jsonl", forkserver.PARALLEL_MIN_BYTES - 1)
    assert not _start([str(small)])
    assert not _start(["-", str(tmp_path / "*.jsonl"), str(tmp_path / "missing.jsonl")])
    assert not _start([])
    assert starts == []


def test_one_core_does_not(tmp_path: Path, starts: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forkserver, "available_cores", lambda: 1)
    assert not _start([str(_sparse(tmp_path / "big.jsonl", forkserver.PARALLEL_MIN_BYTES))])
    assert starts == []


def test_a_server_that_cannot_start_is_left_to_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(multiprocessing.forkserver, "ensure_running", refuse)
    monkeypatch.setattr(forkserver, "available_cores", lambda: 2)
    assert not _start([str(_sparse(tmp_path / "big.jsonl", forkserver.PARALLEL_MIN_BYTES))])


def test_what_the_server_preloads_leaves_the_command_line_and_pyarrow_out() -> None:
    """The server imports the main module and the reading code before the first worker starts: neither may pull in
    what only the parent needs (typer and rich for `python -m llmaudit`, pyarrow for mapping texts)."""
    import subprocess
    import sys

    probe = ("import runpy, sys; runpy.run_module('llmaudit.__main__', run_name='__mp_main__');"
             "import llmaudit.ingest.parallel;"
             "print(sorted(m for m in ('typer', 'rich', 'pyarrow', 'llmaudit.cli') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
    shown = subprocess.run([sys.executable, "-m", "llmaudit", "--help"], capture_output=True, text=True, check=True)
    assert "analyze" in shown.stdout


def test_input_size_counts_files_and_folders_and_says_what_it_could_not(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    _sparse(tmp_path / "logs" / "a.jsonl", 300)
    _sparse(tmp_path / "b.jsonl", 50)
    assert forkserver.input_size([str(tmp_path / "logs"), str(tmp_path / "b.jsonl")], 10**9) == (350, True)
    assert forkserver.input_size([str(tmp_path / "b.jsonl"), "-", str(tmp_path / "*.jsonl")], 10**9) == (50, False)
    assert forkserver.input_size([str(tmp_path / "missing.jsonl")], 10**9) == (0, False)
    assert forkserver.input_size([str(tmp_path / "logs"), str(tmp_path / "b.jsonl")], 100) == (300, True)
