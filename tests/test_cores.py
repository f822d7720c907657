"""The cores the tool plans for are those the process may run on, not the machine's."""

from __future__ import annotations

import os

import pytest

from llmaudit.cores import available


def test_available_follows_the_affinity() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this system")
    assert available() == len(os.sched_getaffinity(0)) >= 1


def test_available_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert available() == 1
