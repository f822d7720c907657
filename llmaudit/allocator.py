"""polars' allocator (jemalloc): its peak bounded on a large log, fewer page faults on the rest.

jemalloc reads ``_RJEM_MALLOC_CONF`` once, when polars loads. Importing the package sets the bounded
settings (`set_default`); the command line, which knows the size of its inputs before it loads polars,
keeps freed pages longer when they are small (`choose_for_input`). A value the user set wins. This module
is light: it is imported before anything else of the package.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "_RJEM_MALLOC_CONF"
BOUNDED = "narenas:1,background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0"
"""For a large log on few cores.
- narenas:1: one arena for every thread. With the default (4 per core) a page freed by one polars thread
  is not reused by another's, and at 1M requests the peak was 4.26 GB; with one arena 3.73 GB (two
  arenas: 4.09 GB). No slower on two cores (100k requests: 10.4 s either way).
- freed pages go back to the system after 100 ms, on jemalloc's own background thread (a stage's freed
  working set would otherwise stay resident while the next stage allocates; handing them back at once,
  on the freeing thread, cost 7% of the time)."""
RETAINING = "narenas:1,background_thread:true,dirty_decay_ms:10000,muzzy_decay_ms:0"
"""For a log known to be small: freed pages are kept 10 s (jemalloc's default), so the next polars step reuses
them instead of faulting fresh ones in. At 100k requests (1.2 GB of log) the analysis process took 430-455k
page faults instead of 720-770k, about 1 s less CPU, with the same peak (1.3 GB)."""
LARGE_INPUT_BYTES = 2_000_000_000
"""Inputs from this size on (or of unknown size: globs, stdin, a store) keep the bounded settings."""

_user_set = VARIABLE in os.environ
"""Whether the user set the variable (read when the package is imported, before `set_default`)."""


def set_default() -> None:
    """The bounded settings, unless the user chose others."""
    os.environ.setdefault(VARIABLE, BOUNDED)


def choose_for_input(size_bytes: int | None) -> bool:
    """Keep freed pages longer when the input is known to be under `LARGE_INPUT_BYTES`; True when it did.

    Must run before polars loads (afterwards jemalloc has read its settings, and nothing changes) and before
    any worker process starts (they inherit the environment).
    """
    if _user_set or size_bytes is None or size_bytes >= LARGE_INPUT_BYTES or "polars" in sys.modules:
        return False
    os.environ[VARIABLE] = RETAINING
    return True
