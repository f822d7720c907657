"""The progress observer the core calls; the only module that knows rich.progress."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from llmaudit.redaction import inert_text


class ProgressBar:
    """A rich progress display of records read per file; silent when stderr is not a terminal."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.enabled = enabled and console.is_terminal
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("records"), TimeElapsedColumn(), console=console, transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            self.progress.stop()

    def __call__(self, file: str, records: int) -> None:
        """Observer: ``records`` read so far from ``file``."""
        if not self.enabled:
            return
        if file not in self.tasks:
            self.tasks[file] = self.progress.add_task(escape(inert_text(f"reading {file}")), total=None)
        self.progress.update(self.tasks[file], completed=records)
