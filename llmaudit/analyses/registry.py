"""Every built-in lever, registered the way a plugin's lever would be."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from llmaudit.analyses.exact_cache import ExactCacheLever
from llmaudit.analyses.interface import AnalysisContext, Lever, LeverResult
from llmaudit.analyses.prompt_caching import PromptCachingLever
from llmaudit.analyses.semantic_cache import SemanticCacheLever
from llmaudit.cores import SIDE_BY_SIDE_MAX_REQUESTS
from llmaudit.cores import available as available_cores
from llmaudit.heap import return_free_memory
from llmaudit.spill import release_pages

# Run order = report order. One line per lever.
LEVER_CLASSES: list[type[Lever]] = [
    ExactCacheLever,
    SemanticCacheLever,
    PromptCachingLever,
]


def levers() -> list[Lever]:
    """An instance of every registered lever."""
    return [cls() for cls in LEVER_CLASSES]


def run_levers_in_two_steps(early: AnalysisContext, late: Callable[[], AnalysisContext],
                            counts_done: Callable[[], None] | None = None) -> list[LeverResult]:
    """Levers that need no token count on ``early``, the others on ``late()`` (built once); results in registry order.

    ``counts_done``: waits until the token counts are in (before the levers, when they run one group after the other).

    With two cores or more, and up to `SIDE_BY_SIDE_MAX_REQUESTS`, the two groups run side by side:
    the token-free levers on a second thread, while this one waits for the counts and runs the
    levers that need them. Each group keeps registry order. The levers release the GIL in their
    numpy, scipy and polars work.
    """
    chosen = levers()
    free = [i for i, lever in enumerate(chosen) if not lever.needs_tokens]
    counted = [i for i, lever in enumerate(chosen) if lever.needs_tokens]

    def run_all(indexes: list[int], context: AnalysisContext) -> dict[int, LeverResult]:
        results = {}
        for i in indexes:
            results[i] = chosen[i].run(context)
            release_pages()  # the texts this lever read leave resident memory
            return_free_memory()  # and so does the C heap's share of its temporaries (360 MB after the semantic lever at 1M)
        return results

    def run_counted() -> dict[int, LeverResult]:
        if not counted:
            return {}
        context = late()
        release_pages()
        return run_all(counted, context)

    if not free or not counted or available_cores() < 2 or early.requests.height > SIDE_BY_SIDE_MAX_REQUESTS:
        if counted and counts_done is not None:
            # The counting ends first: its workers are forked from this process, and every page this process
            # rewrites or frees while they run stays resident in them too (measured at 1M requests: 0.4 GB more
            # for the process tree). They keep both cores busy meanwhile: the levers lose little by waiting.
            counts_done()
        results = run_all(free, early)
        results.update(run_counted())
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="llmaudit-levers") as side:
            beside = side.submit(run_all, free, early)
            results = run_counted()  # on an error, the pool's exit still waits for the other group
        results.update(beside.result())
    return [results[i] for i in range(len(chosen))]
