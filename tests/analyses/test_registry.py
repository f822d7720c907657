"""Levers that need no token count run while the prompts are tokenized; results keep registry order."""

from __future__ import annotations

import threading
from typing import ClassVar

import polars as pl
import pytest

from llmaudit.analyses import registry
from llmaudit.analyses.interface import AnalysisContext, Lever, LeverResult


def _context(tag: str) -> AnalysisContext:
    return AnalysisContext(pl.DataFrame({"tag": [tag]}), pl.DataFrame(), pl.DataFrame(), 1.0)


def _lever(lever_name: str, tokens: bool, calls: list[str], threads: list[bool] | None = None) -> type[Lever]:
    threads = [] if threads is None else threads

    class Fake(Lever):
        name: ClassVar[str] = lever_name
        title: ClassVar[str] = lever_name
        needs_tokens: ClassVar[bool] = tokens

        def run(self, context: AnalysisContext) -> LeverResult:
            calls.append(f"{self.name}@{context.requests.item()}")
            threads.append(threading.current_thread() is threading.main_thread())
            return self.skipped(context, "fake")

    return Fake


@pytest.mark.parametrize(("cores", "limit"), [(1, 10), (2, 10), (2, 0)])
@pytest.mark.parametrize("flags", [(True, False, True), (False, False), (True,), (False, True, False, True)])
def test_two_steps(flags: tuple[bool, ...], cores: int, limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """One after the other on one core, or above the size limit; else side by side."""
    monkeypatch.setattr(registry, "available_cores", lambda: cores)
    monkeypatch.setattr(registry, "SIDE_BY_SIDE_MAX_REQUESTS", limit)
    calls: list[str] = []
    on_main: list[bool] = []
    built: list[int] = []
    monkeypatch.setattr(registry, "LEVER_CLASSES", [_lever(f"l{i}", flag, calls, on_main) for i, flag in enumerate(flags)])

    def late() -> AnalysisContext:
        built.append(1)
        return _context("late")

    results = registry.run_levers_in_two_steps(_context("early"), late)
    assert [r.name for r in results] == [f"l{i}" for i in range(len(flags))]
    early = [f"l{i}@early" for i, flag in enumerate(flags) if not flag]
    late_calls = [f"l{i}@late" for i, flag in enumerate(flags) if flag]
    if cores == 1 or limit == 0 or not early or not late_calls:
        assert calls == early + late_calls
        assert all(on_main)
    else:  # each group in registry order; the token-free group on a thread of its own
        assert [c for c in calls if c.endswith("@early")] == early
        assert [c for c in calls if c.endswith("@late")] == late_calls
        assert [main for call, main in zip(calls, on_main, strict=True) if call.endswith("@early")] == [False] * len(early)
    assert built == ([1] if any(flags) else [])


def _blocking_lever(lever_name: str, tokens: bool, waits_for: threading.Event, sets: threading.Event) -> type[Lever]:
    class Blocking(Lever):
        name: ClassVar[str] = lever_name
        title: ClassVar[str] = lever_name
        needs_tokens: ClassVar[bool] = tokens

        def run(self, context: AnalysisContext) -> LeverResult:
            sets.set()
            assert waits_for.wait(timeout=10), f"{self.name} ran alone: the other group did not run beside it"
            return self.skipped(context, "fake")

    return Blocking


def test_token_free_levers_do_not_wait_for_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each lever waits until a lever of the other group has started: only side by side can both finish."""
    monkeypatch.setattr(registry, "available_cores", lambda: 2)
    free_started, counted_started = threading.Event(), threading.Event()
    monkeypatch.setattr(registry, "LEVER_CLASSES", [
        _blocking_lever("free", False, counted_started, free_started),
        _blocking_lever("counted", True, free_started, counted_started),
    ])
    results = registry.run_levers_in_two_steps(_context("early"), lambda: _context("late"))
    assert [r.name for r in results] == ["free", "counted"]


def test_an_error_in_either_group_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "available_cores", lambda: 2)
    calls: list[str] = []
    monkeypatch.setattr(registry, "LEVER_CLASSES", [_lever("free", False, calls), _lever("counted", True, calls)])

    def failing_late() -> AnalysisContext:
        raise RuntimeError("counting failed")

    with pytest.raises(RuntimeError, match="counting failed"):
        registry.run_levers_in_two_steps(_context("early"), failing_late)
    assert calls == ["free@early"]  # the other group was let finish, not abandoned mid-run

    class Broken(_lever("broken", False, calls)):  # type: ignore[misc, valid-type]
        def run(self, context: AnalysisContext) -> LeverResult:
            raise ValueError("lever bug")

    monkeypatch.setattr(registry, "LEVER_CLASSES", [Broken, _lever("counted", True, calls)])
    with pytest.raises(ValueError, match="lever bug"):
        registry.run_levers_in_two_steps(_context("early"), lambda: _context("late"))


def test_builtin_levers_declare_what_they_read() -> None:
    assert {cls.name: cls.needs_tokens for cls in registry.LEVER_CLASSES} == {
        "exact_cache": False, "semantic_cache": False, "prompt_caching": True}


def test_above_the_size_limit_the_counts_end_before_any_lever(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counting workers share this process's pages: they are gone before the levers allocate."""
    monkeypatch.setattr(registry, "available_cores", lambda: 2)
    monkeypatch.setattr(registry, "SIDE_BY_SIDE_MAX_REQUESTS", 0)
    calls: list[str] = []
    monkeypatch.setattr(registry, "LEVER_CLASSES", [_lever("free", False, calls), _lever("counted", True, calls)])
    registry.run_levers_in_two_steps(_context("early"), lambda: _context("late"), lambda: calls.append("counts done"))
    assert calls == ["counts done", "free@early", "counted@late"]
    calls.clear()
    monkeypatch.setattr(registry, "SIDE_BY_SIDE_MAX_REQUESTS", 10)  # side by side: nobody waits for the counts first
    registry.run_levers_in_two_steps(_context("early"), lambda: _context("late"), lambda: calls.append("counts done"))
    assert "counts done" not in calls
