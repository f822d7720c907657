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


def test_ordered_map_keeps_the_order_on_threads_and_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from llmaudit import cores

    seen: set[str] = set()

    def slow_square(n: int) -> int:
        seen.add(threading.current_thread().name)
        time.sleep(0.001 * (20 - n))  # later tasks finish first
        return n * n

    monkeypatch.setattr(cores, "available", lambda: 4)
    assert cores.ordered_map(slow_square, range(20)) == [n * n for n in range(20)]
    assert len(seen) > 1
    seen.clear()
    monkeypatch.setattr(cores, "available", lambda: 1)
    assert cores.ordered_map(slow_square, range(5)) == [0, 1, 4, 9, 16]
    assert seen == {threading.current_thread().name}
