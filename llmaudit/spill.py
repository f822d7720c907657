"""Frames moved out of the process's own memory: written to an Arrow file, read back memory-mapped.

The texts of a large log are most of its memory (1.9 GB of unique text for a million requests),
and most are read once (by the token counters) or never again (long answers). Mapped from a file,
they are page cache: the kernel holds the pages the process reads, and can drop them again, instead
of the process holding every text in memory it owns. The file is unlinked as soon as it is mapped
(on Linux the mapping keeps it readable), so nothing is left behind, whatever happens next.

Pages read stay mapped into the process (its resident memory) until `release_pages` hands them back:
the analysis calls it between steps, so the texts one step read do not add to the next step's peak.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import polars as pl

RUN_ROWS = 32
"""Rows `strings_at` reads between two hand-backs of the mapped pages. Few: the page cache keeps a file in
large folios (up to 2 MB), and reading one text maps its whole folio, so 4,096 scattered texts (9 MB)
made 1.7 GB resident. On a million-request log, 170k system prompts read in 1.0 s this way, with at most
130 MB mapped (0.93 s and 1.7 GB in runs of 4,096)."""
SMALL_MAPPING_BYTES = 256 << 20
"""Mapped texts up to this size are read by `strings_at` without handing their pages back (in runs of
SMALL_MAPPING_RUN_ROWS): mapping them again would cost more (0.4 s instead of 0.12 s for the 100k texts
of a 100k-request log)."""
SMALL_MAPPING_RUN_ROWS = 1_024

_regions: weakref.WeakSet[mmap.mmap] = weakref.WeakSet()
"""Every live mapping (one goes when the last frame reading it does)."""


def mapped(frame: pl.DataFrame, folder: str | Path) -> pl.DataFrame:
    """The same frame, its buffers backed by a file in ``folder``; the frame itself when that fails (full disk)."""
    try:
        descriptor, path = tempfile.mkstemp(suffix=".arrow", dir=folder)
    except OSError:
        return frame
    os.close(descriptor)
    try:
        frame.write_ipc(path, compression="uncompressed")
        return map_file(path)
    except OSError:
        return frame
    finally:
        with contextlib.suppress(OSError):  # map_file unlinked it already, unless writing failed
            os.unlink(path)


def map_file(path: str | Path) -> pl.DataFrame:
    """The uncompressed Arrow IPC file at ``path`` as a frame backed by the file itself, which is unlinked."""
    import pyarrow as pa  # here, not at the top: the reading workers never map, and pyarrow takes 0.05-0.1 s to load
    import pyarrow.ipc

    try:
        with open(path, "rb") as file:
            region = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        table = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(region))).read_all()  # slices of the mapping: no copy
        _regions.add(region)
        return pl.from_arrow(table, rechunk=False)  # type: ignore[return-value]
    finally:
        with contextlib.suppress(OSError):  # a system that cannot unlink a mapped file: the folder's owner removes it
            os.unlink(path)


def release_pages() -> None:
    """Take the mapped pages read so far out of this process's resident memory.

    Nothing is lost: the pages are the files' (the kernel's page cache may keep them), and a later read
    maps them again. Where the system has no ``madvise``, nothing happens.
    """
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None:
        return
    for region in list(_regions):
        with contextlib.suppress(OSError, ValueError):
            region.madvise(advice)


def strings_at(column: pl.Series, rows: pl.Series) -> Iterator[str | None]:
    """``column[rows]`` as Python strings (None where a row is null), the mapped pages handed back as it goes.

    Texts are stored in the order they were read, which scatters the ones a step wants over the whole
    file: reading them all at once made every page of it resident (1.9 GB for a million requests) for
    a fraction of that in text. Each value is a copy, so the pages can go once it has been read.
    Joining the texts into a frame and sorting it instead added 1.1 GB of the process's own memory
    (the span-template search's system prompts, at a million requests).
    """
    bounded = sum(len(region) for region in list(_regions)) > SMALL_MAPPING_BYTES
    step = RUN_ROWS if bounded else SMALL_MAPPING_RUN_ROWS
    for start in range(0, rows.len(), step):
        yield from column.gather(rows.slice(start, step)).to_list()
        if bounded:
            release_pages()
