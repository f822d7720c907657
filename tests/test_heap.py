"""Handing the C heap's free pages back never fails, wherever it runs."""

from __future__ import annotations

import sys

import pytest

from llmaudit import heap


def test_trim_is_found_on_glibc_and_runs() -> None:
    if sys.platform.startswith("linux") and heap._trim() is None:
        pytest.skip("a C library without malloc_trim (musl)")
    heap.return_free_memory()
    if sys.platform.startswith("linux"):
        assert heap._trim() is not None


def test_no_trim_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_trim", lambda: None)
    heap.return_free_memory()
