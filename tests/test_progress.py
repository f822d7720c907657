"""The progress display shows file names as they are: no markup, no terminal escapes, no secrets."""

from __future__ import annotations

import io

from rich.console import Console

from llmaudit.progress import ProgressBar


def test_a_file_name_is_shown_literally_on_a_terminal() -> None:
    name = "exports/[/nope][bold]x\x1b[2J/sk-proj-Qwe123rty456UIO789pas012.jsonl"
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=300)
    with ProgressBar(console) as progress:
        progress(name, 10)
        progress(name, 20)
        progress.progress.refresh()
    shown = screen.getvalue()
    assert "[/nope][bold]x" in shown and "\\x1b[2J" in shown
    assert "\x1b[2J" not in shown and "Qwe123rty456" not in shown and "[redacted]" in shown
