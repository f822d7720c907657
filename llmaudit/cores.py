"""How many cores this process may use (its CPU affinity, which a container or taskset narrows), and
threads over them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


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
