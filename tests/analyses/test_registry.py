"""Levers that need no token count run first (while the prompts are tokenized); results keep registry order."""

from __future__ import annotations

from typing import ClassVar

import polars as pl
import pytest

from llmaudit.analyses import registry
from llmaudit.analyses.interface import AnalysisContext, Lever, LeverResult


def _context(tag: str) -> AnalysisContext:
    return AnalysisContext(pl.DataFrame({"tag": [tag]}), pl.DataFrame(), pl.DataFrame(), 1.0)


def _lever(lever_name: str, tokens: bool, calls: list[str]) -> type[Lever]:
    class Fake(Lever):
        name: ClassVar[str] = lever_name
        title: ClassVar[str] = lever_name
        needs_tokens: ClassVar[bool] = tokens

        def run(self, context: AnalysisContext) -> LeverResult:
            calls.append(f"{self.name}@{context.requests.item()}")
            return self.skipped(context, "fake")

    return Fake


@pytest.mark.parametrize("flags", [(True, False, True), (False, False), (True,)])
def test_two_steps(flags: tuple[bool, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    built: list[int] = []
    monkeypatch.setattr(registry, "LEVER_CLASSES", [_lever(f"l{i}", flag, calls) for i, flag in enumerate(flags)])

    def late() -> AnalysisContext:
        built.append(1)
        return _context("late")

    results = registry.run_levers_in_two_steps(_context("early"), late)
    assert [r.name for r in results] == [f"l{i}" for i in range(len(flags))]
    early = [f"l{i}@early" for i, flag in enumerate(flags) if not flag]
    assert calls == early + [f"l{i}@late" for i, flag in enumerate(flags) if flag]
    assert built == ([1] if any(flags) else [])


def test_builtin_levers_declare_what_they_read() -> None:
    assert {cls.name: cls.needs_tokens for cls in registry.LEVER_CLASSES} == {
        "exact_cache": False, "semantic_cache": False, "prompt_caching": True}
