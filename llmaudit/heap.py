"""Hand the C heap's free memory back to the system.

numpy, scipy and the interpreter allocate through the C library's malloc. glibc keeps the memory
of freed blocks below its mmap threshold (which grows to 32 MB as large blocks come and go) in its
heaps, where it still counts as the process's resident memory: after a step that built and dropped
hundreds of MB of temporaries, the next step's peak sits on top of them. ``malloc_trim`` returns
every free page of every heap. Elsewhere (another C library, another system) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def return_free_memory() -> None:
    """Give the free pages of the C heaps back to the system (a few ms: it walks every heap)."""
    trim = _trim()
    if trim is not None:
        trim(0)
