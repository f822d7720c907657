"""How many cores this process may use (its CPU affinity, which a container or taskset narrows)."""

from __future__ import annotations

import os


def available() -> int:
    """Cores this process may run on (os.cpu_count() counts the machine's, usable or not)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
