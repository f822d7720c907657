"""How many cores this process may use (its CPU affinity, which a container or taskset narrows), and
threads over them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

SIDE_BY_SIDE_MAX_REQUESTS = 250_000
"""Above this many requests, analysis steps that could run side by side run one after the other: side by side
their working sets add up (measured at 1M requests: 1.5 GB more at the peak for the two groups of levers, for
about 10 s less); below it the peak is small (1.4 GB at 100k) and side by side saves about a second there."""


def available() -> int:
    """Cores this process may run on (os.cpu_count() counts the machine's, usable or not)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def ordered_map(function: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
    """``function`` over ``tasks`` in threads, one per core, results in task order (in this thread when
    there is one task or one core). For work that releases the GIL for most of its time (numpy, scipy)."""
    workers = min(available(), len(tasks))
    if workers < 2:
        return [function(task) for task in tasks]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, tasks))


class Pending(Generic[R]):
    """A function started on a second thread when ``side_by_side`` and two cores allow; otherwise it runs here,
    when its result is first asked for (one working set at a time). `close` waits for the thread."""

    def __init__(self, function: Callable[[], R], side_by_side: bool = True) -> None:
        self._function = function
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="llmaudit-beside") \
            if side_by_side and available() >= 2 else None
        self._future: Future[R] | None = None if self._pool is None else self._pool.submit(function)

    @property
    def side_by_side(self) -> bool:
        """True when the function runs on its own thread."""
        return self._future is not None

    def result(self) -> R:
        """The function's result (its exception, raised here)."""
        return self._future.result() if self._future is not None else self._function()

    def close(self) -> None:
        """Wait for the thread to end (at once when there is none)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)


@contextmanager
def beside(function: Callable[[], R], side_by_side: bool = True) -> Iterator[Pending[R]]:
    """`Pending` for the with-block: the function runs beside the block (or after it, see `Pending`), and leaving
    the block waits for its thread, whatever ends the block. For work that releases the GIL for most of its time
    (polars, numpy)."""
    pending = Pending(function, side_by_side)
    try:
        yield pending
    finally:
        pending.close()
