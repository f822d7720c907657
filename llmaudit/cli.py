"""The command line: flags -> AuditConfig -> run_audit() -> renderers; errors -> exit codes.

Exit codes: 0 success, 1 --strict with rejections, 2 usage or input error, 3 internal error.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from llmaudit import __version__
from llmaudit.config import AuditConfig, keys_from_settings, load_toml_settings
from llmaudit.errors import ConfigError, LlmAuditError
from llmaudit.redaction import inert_text

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Offline cost audit for LLM API logs: where the money goes and what it would save.",
    pretty_exceptions_enable=False,
)
INTERNAL_ERROR = 3


def _default_db(json_out: Path | None, html_out: Path | None) -> Path:
    beside = json_out or html_out
    return beside.with_suffix(".duckdb") if beside else Path("llmaudit.duckdb")


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--as-of {value!r} is not a date (YYYY-MM-DD)") from None


def _column_map(spec: str | None, map_file: Path | None) -> dict[str, str]:
    if not spec and not map_file:
        return {}
    from llmaudit.ingest.generic import load_mapping_file, parse_mapping

    mapping = load_mapping_file(map_file) if map_file else {}
    if spec:
        mapping.update(parse_mapping(spec))
    return mapping


@app.command()
def analyze(
    inputs: Annotated[list[str] | None, typer.Argument(help="Log files, globs, directories, or - for stdin.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write audit.json here.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    md_out: Annotated[Path | None, typer.Option("--md", help="Write a Markdown summary (for a pull request) here.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB store (default: beside the output; ':memory:' for none).")] = None,
    prices: Annotated[Path | None, typer.Option("--prices", help="TOML/JSON price overrides (negotiated or self-hosted models).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reprice everything at the prices in force on this date.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any record is rejected.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="Force a format instead of detecting it (see `llmaudit formats`).")] = None,
    column_map: Annotated[str | None, typer.Option("--map", help="Generic logs: field=column pairs, e.g. model=llm,input_tokens=tok_in.")] = None,
    map_file: Annotated[Path | None, typer.Option("--map-file", help="Generic logs: the mapping as a TOML/JSON file.")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="llmaudit.toml (default: ./llmaudit.toml or [tool.llmaudit]).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")] = False,
) -> None:
    """Read LLM request logs, price every request and summarise where the money went."""
    console = Console(stderr=False)
    err = Console(stderr=True)

    def run() -> int:
        from llmaudit.allocator import LARGE_INPUT_BYTES, choose_for_input
        from llmaudit.ingest.forkserver import input_size, start_early

        size, known = input_size(inputs or (), LARGE_INPUT_BYTES)  # once, for both choices below
        choose_for_input(size if inputs and known else None)  # before polars loads, and the workers start
        start_early(size)  # the reading workers' server loads while this process loads the analysis
        from llmaudit.audit import run_audit  # the analysis itself is imported while the files are read
        from llmaudit.progress import ProgressBar

        settings = load_toml_settings(config_file)
        db_path = None if db == ":memory:" else Path(db) if db else _default_db(json_out, html_out)
        config = AuditConfig(
            inputs=tuple(inputs or ()),
            db_path=db_path,
            prices_file=prices or (Path(settings["prices"]) if "prices" in settings else None),
            as_of=_parse_date(as_of),
            strict=strict,
            format=fmt,
            column_map=_column_map(column_map, map_file),
            feature_keys=keys_from_settings(settings, "feature_keys", AuditConfig.feature_keys),
            user_keys=keys_from_settings(settings, "user_keys", AuditConfig.user_keys),
            team_keys=keys_from_settings(settings, "team_keys", AuditConfig.team_keys),
        )
        with ProgressBar(err, enabled=not quiet) as progress:
            result = run_audit(config, progress)
        from llmaudit.report.html import write_html
        from llmaudit.report.json import write_json
        from llmaudit.report.markdown import write_markdown
        from llmaudit.report.terminal import render_terminal

        if json_out:
            write_json(result, json_out)
        if html_out:
            write_html(result, html_out)
        if md_out:
            write_markdown(result, md_out)
        if not quiet:
            render_terminal(result, console)
            for label, path in (("JSON", json_out), ("HTML", html_out), ("Markdown", md_out), ("store", db_path)):
                if path:
                    console.print(f"[dim]{label}: {escape(inert_text(str(path)))}[/dim]")
        return 0

    raise typer.Exit(_guarded(run, err))


@app.command()
def formats() -> None:
    """List the supported log formats and the fields each one provides."""
    from rich.table import Table

    from llmaudit.ingest.registry import readers

    table = Table(title="Supported log formats (detected from content)")
    table.add_column("format")
    table.add_column("containers")
    table.add_column("description")
    table.add_column("fields")
    for name, reader in sorted(readers().items()):
        table.add_row(name, ", ".join(reader.containers), reader.description, ", ".join(reader.fields))
    table.add_row("generic", "jsonl, json, csv", "Any CSV/JSONL with --map field=column pairs", "whatever is mapped")
    Console().print(table)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def _guarded(run: object, err: Console) -> int:
    """Run a command body; user errors print one line, internal errors never a traceback unless asked."""
    assert callable(run)
    try:
        return int(run())
    except LlmAuditError as exc:
        # One line whatever the terminal width: the message names the file, and scripts grep for it.
        err.print(f"[red]error:[/red] {escape(inert_text(str(exc)))}", highlight=False, markup=True, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is: no traceback for any input
        if os.environ.get("LLMAUDIT_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {escape(inert_text(str(exc)))}\n"
            "This is a bug in llmaudit; rerun with LLMAUDIT_DEBUG=1 for the traceback and report it."
        )
        return INTERNAL_ERROR


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (a CI job cancelled, `kill`) exits as an exception would: the spooled stdin and the spilled
    texts, which hold prompts, are removed on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminated)
    sys.exit(app(standalone_mode=True))


if __name__ == "__main__":
    main()
