"""Every built-in lever, registered the way a plugin's lever would be."""

from __future__ import annotations

from collections.abc import Callable

from llmaudit.analyses.exact_cache import ExactCacheLever
from llmaudit.analyses.interface import AnalysisContext, Lever, LeverResult
from llmaudit.analyses.prompt_caching import PromptCachingLever
from llmaudit.analyses.semantic_cache import SemanticCacheLever
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


def run_levers_in_two_steps(early: AnalysisContext, late: Callable[[], AnalysisContext]) -> list[LeverResult]:
    """Levers that need no token count on ``early``, then the others on ``late()`` (built once), in registry order."""
    chosen = levers()

    def run(lever: Lever, context: AnalysisContext) -> LeverResult:
        result = lever.run(context)
        release_pages()  # the texts this lever read leave resident memory before the next one runs
        return result

    results: dict[int, LeverResult] = {i: run(lever, early) for i, lever in enumerate(chosen) if not lever.needs_tokens}
    if len(results) < len(chosen):
        context = late()
        release_pages()
        results.update({i: run(lever, context) for i, lever in enumerate(chosen) if lever.needs_tokens})
    return [results[i] for i in range(len(chosen))]
