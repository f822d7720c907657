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


def test_beside_runs_on_another_thread_while_the_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from llmaudit import cores

    monkeypatch.setattr(cores, "available", lambda: 2)
    started, block_ran = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        assert block_ran.wait(5)  # it runs while the block does: the block's event reaches it
        return threading.current_thread().name

    with cores.beside(work) as pending:
        assert started.wait(5)
        block_ran.set()
    assert pending.result() != threading.current_thread().name


@pytest.mark.parametrize(("cores_available", "side_by_side"), [(1, True), (2, False)])
def test_beside_runs_here_after_the_block_when_not_side_by_side(monkeypatch: pytest.MonkeyPatch, cores_available: int,
                                                                 side_by_side: bool) -> None:
    import threading

    from llmaudit import cores

    monkeypatch.setattr(cores, "available", lambda: cores_available)
    order: list[str] = []

    def work() -> str:
        order.append("work")
        return threading.current_thread().name

    with cores.beside(work, side_by_side=side_by_side) as pending:
        order.append("block")
    assert pending.result() == threading.current_thread().name
    assert order == ["block", "work"]


def test_beside_raises_the_function_error_where_the_result_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmaudit import cores

    monkeypatch.setattr(cores, "available", lambda: 2)

    def failing() -> int:
        raise ValueError("boom")

    with cores.beside(failing) as pending:
        pass
    with pytest.raises(ValueError, match="boom"):
        pending.result()


def test_beside_waits_for_its_thread_when_the_block_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from llmaudit import cores

    monkeypatch.setattr(cores, "available", lambda: 2)
    done: list[bool] = []

    def slow() -> None:
        time.sleep(0.05)
        done.append(True)

    with pytest.raises(RuntimeError), cores.beside(slow):
        raise RuntimeError("the block failed")
    assert done == [True]
