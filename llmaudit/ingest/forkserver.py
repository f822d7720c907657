"""The fork server the reading workers start from, and starting it early.

A fork server, not plain fork: a process forked from one that has run polars' thread pool can
deadlock in it. The server loads the reading code once (`PRELOAD`); each worker is forked from
it. This module is light (no polars): the command line starts the server before it loads the
analysis, so both loads run at once, on two cores.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import sys
from collections.abc import Iterable
from multiprocessing.context import BaseContext
from pathlib import Path

from llmaudit.cores import available as available_cores

START_METHOD = "forkserver"
PRELOAD = ["__main__", "llmaudit.ingest.parallel"]
"""Loaded once by the server, inherited by every worker. "__main__": a main script (the `llmaudit`
console script) is imported by the server, not again by each worker as it starts (0.4 s at 100k)."""
PARALLEL_MIN_BYTES = 48_000_000
"""Below this much input, starting worker processes costs more than it saves."""


def context() -> BaseContext:
    """The multiprocessing context of the reading workers."""
    found = multiprocessing.get_context(START_METHOD)
    found.set_forkserver_preload(PRELOAD)
    return found


def usable() -> bool:
    """True when there are several cores, a fork server, and a main module workers may import."""
    return available_cores() >= 2 and START_METHOD in multiprocessing.get_all_start_methods() \
        and main_can_be_reimported()


def main_can_be_reimported() -> bool:
    """Whether a worker may start: like spawn, the fork server's workers import the main script first.

    A script that calls llmaudit at its top level, with no ``if __name__ == "__main__"`` guard,
    would run again in every worker (which multiprocessing then refuses, again and again): such a
    program is read in one process. ``python -m package`` mains are not re-imported.
    """
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None and (name == "__main__" or name.endswith(".__main__")):
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return True  # an interactive session or python -c: nothing to re-import
    try:
        return "__main__" in Path(path).read_text(errors="replace")
    except OSError:
        return False


def start_early(size_bytes: int) -> bool:
    """Start the fork server now when inputs of ``size_bytes`` (`input_size`) will be read in parallel.

    Only plain paths are sized (stdin and globs are not: their server starts when first needed).
    True when it was started. Never raises: a server that cannot start here starts, or fails
    with its reason, where the workers are needed.
    """
    try:
        if not usable() or size_bytes < PARALLEL_MIN_BYTES:
            return False
        context()
        multiprocessing.forkserver.ensure_running()
    except (OSError, ValueError, RuntimeError):
        return False
    return True


def input_size(specs: Iterable[str], enough: int) -> tuple[int, bool]:
    """(bytes of the plain files and folders named in ``specs``, counted until ``enough``; whether every spec
    was one and could be sized: stdin, globs and unreadable paths are not). Never raises."""
    total, known = 0, True
    for spec in specs:
        path = Path(spec)
        try:
            if path.is_file():
                total += path.stat().st_size
            elif path.is_dir():
                total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            else:
                known = False
        except OSError:
            known = False
        if total >= enough:
            break
    return total, known
