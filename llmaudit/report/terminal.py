"""The rich terminal summary: spend by model, feature, user and day; reconciliation; pricing problems."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from llmaudit.redaction import inert_text
from llmaudit.result import AuditResult, BreakdownRow, IngestSummary

MAX_ROWS = 10
MAX_REJECTS_SHOWN = 10


def usd(value: float | None) -> str:
    """Dollars with precision that suits the amount."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}"


def safe(text: str) -> str:
    """Log text for the terminal: secrets masked, control characters escaped, rich markup escaped."""
    return escape(inert_text(text))


def row_cost(row: BreakdownRow) -> str:
    """A breakdown row's cost, saying when some or all of its requests could not be priced (never a bare $0)."""
    if row.unpriced_requests and row.unpriced_requests == row.requests:
        return "not priced"
    if row.unpriced_requests:
        return f"{usd(row.cost_usd)} + {row.unpriced_requests:,} not priced"
    return usd(row.cost_usd)


def reconciliation(ing: IngestSummary) -> str:
    """Where every record read went, in words ("10 records read = 8 analysed + 1 duplicates + 1 rejected"); the
    duplicates that are request halves joined to their other half are named as such, not as copies."""
    duplicates = f"{ing.duplicates:,} duplicates"
    if ing.merged_halves == ing.duplicates and ing.duplicates:
        duplicates = f"{ing.merged_halves:,} request halves joined to their other half"
    elif ing.merged_halves:
        duplicates += f" ({ing.merged_halves:,} of them request halves joined to their other half)"
    return f"{ing.records_read:,} records read = {ing.requests:,} analysed + {duplicates} + {ing.rejected:,} rejected"


def _breakdown_table(title: str, rows: list[BreakdownRow], label: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column(label)
    table.add_column("requests", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("share", justify="right")
    for row in rows[:MAX_ROWS]:
        name = safe(row.key)
        if row.detail.get("price_model") and row.detail["price_model"] != row.key:
            name += f" [dim]→ {safe(row.detail['price_model'])}[/dim]"
        cost = row_cost(row).replace("not priced", "[red]not priced[/red]")
        table.add_row(name, f"{row.requests:,}", cost, f"{row.share:.1%}")
    if len(rows) > MAX_ROWS:
        table.add_row(f"[dim]… {len(rows) - MAX_ROWS} more[/dim]", "", "", "")
    return table


def render_terminal(result: AuditResult, console: Console) -> None:
    """Print the audit summary."""
    s, w, ing = result.summary, result.window, result.ingest
    console.rule("[bold]llmaudit")
    span = f"{(w.start or '?')[:10]} → {(w.end or '?')[:10]} ({w.days:.1f} days)"
    console.print(f"Window: {span}")
    console.print(
        f"[bold]{s.requests:,}[/bold] requests cost [bold]{usd(s.cost_usd)}[/bold]"
        f" · run-rate [bold]{usd(s.monthly_run_rate_usd)}/month[/bold]"
        f" · {usd(s.cost_per_successful_request_usd)} per successful request"
    )
    console.print(
        f"Tokens: {s.input_tokens:,} in ({s.cache_read_tokens:,} cache reads, {s.cache_write_tokens:,} cache writes),"
        f" {s.output_tokens:,} out ({s.reasoning_tokens:,} reasoning)"
    )
    if s.failed_requests:
        console.print(f"[yellow]{s.failed_requests:,} failed requests[/yellow] ({usd(s.failed_cost_usd)} billed)")
    console.print(_breakdown_table("Spend by model", result.by_model, "model"))
    console.print(_breakdown_table("Spend by feature", result.by_feature, "feature"))
    console.print(_breakdown_table("Spend by user", result.by_user, "user"))
    console.print(_breakdown_table("Spend by day", result.by_day, "day"))
    _print_attribution(result, console)
    _print_levers(result, console)
    _print_pricing(result, console)
    reconciled = ing.records_read == ing.requests + ing.duplicates + ing.rejected
    mark = "[green]✓[/green]" if reconciled else "[red]✗ does not balance[/red]"
    console.print(
        f"Ingest: {reconciliation(ing)} {mark}"
        + (f" ({ing.skipped:,} non-request lines skipped)" if ing.skipped else "")
    )
    for file in ing.files:
        console.print(f"  [dim]{safe(file.file)}: {file.format}, {file.records:,} records[/dim]")
    if ing.unrecognised_files:
        names = ", ".join(safe(Path(u.file).name) for u in ing.unrecognised_files[:8])
        more = f" and {len(ing.unrecognised_files) - 8} more" if len(ing.unrecognised_files) > 8 else ""
        console.print(f"  [yellow]not read[/yellow] (not a known log format; details in audit.json): {names}{more}")
    for reject in ing.rejects[:MAX_REJECTS_SHOWN]:
        console.print(f"  [red]rejected[/red] {safe(reject.file)}:{reject.line}: {safe(reject.reason)}")
    if ing.rejected > MAX_REJECTS_SHOWN:
        console.print(f"  [dim]… {ing.rejected - MAX_REJECTS_SHOWN} more rejections in audit.json[/dim]")


def _print_pricing(result: AuditResult, console: Console) -> None:
    pr, s = result.pricing, result.summary
    console.print(f"Prices: {pr.source} {pr.version}" + (f", repriced as of {pr.as_of}" if pr.as_of else ""))
    for model in pr.unknown_models:
        console.print(
            f"  [red]unpriced model[/red] {safe(model.model)}: {model.requests:,} requests,"
            f" {model.input_tokens:,} in / {model.output_tokens:,} out tokens NOT in the total"
            + (f" (log says {usd(model.reported_cost_usd)})" if model.reported_cost_usd is not None else "")
            + " — add it with --prices FILE"
        )
    for note in pr.notes:
        console.print(f"  [yellow]note[/yellow] {safe(note)}")
    if pr.compared_requests:
        console.print(
            f"  Logged cost {usd(pr.reported_cost_usd)} vs computed {usd(pr.computed_cost_usd)}"
            f" on {pr.compared_requests:,} requests; {pr.disagreements:,} differ by more than 1%"
        )
    if s.unpriced_requests:
        console.print(f"  [red]{s.unpriced_requests:,} requests could not be priced[/red]")


def _print_attribution(result: AuditResult, console: Console) -> None:
    att = result.attribution
    table = Table(title="Where the money goes, by prompt component", title_justify="left")
    for name, justify in (("component", "left"), ("tokens", "right"), ("cost", "right"), ("share", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name, spend in att.overall.items():
        if spend.tokens or spend.cost_usd:
            table.add_row(name, f"{spend.tokens:,}", usd(spend.cost_usd), f"{spend.share:.1%}")
    console.print(table)
    for title, texts in (("Most expensive repeated system prompts", att.top_system_prompts),
                         ("Most expensive repeated context blocks", att.top_context_blocks)):
        if not texts:
            continue
        repeated = Table(title=title, title_justify="left")
        for name, justify in (("excerpt", "left"), ("tokens", "right"), ("sent", "right"), ("total cost", "right")):
            repeated.add_column(name, justify=justify)  # type: ignore[arg-type]
        for text in texts[:5]:
            excerpt = " ".join(text.excerpt.split())[:70]
            repeated.add_row(safe(excerpt), f"{text.tokens:,}", f"{text.requests:,}×", usd(text.cost_usd))
        console.print(repeated)
    check = att.check
    if check.requests_with_text:
        console.print(
            f"Token attribution: counted text + calibrated overhead matches the reported input exactly for"
            f" {check.share_exact:.1%} of {check.requests_with_text:,} requests (worst error {check.worst_abs_error} tokens)"
        )
    for cal in att.calibration:
        if not cal.exact_tokenizer and cal.fitted_on:
            console.print(
                f"  [dim]{safe(cal.model)}: proxy {cal.encoding} × {cal.factor:.3f};"
                f" held-back error median {cal.median_abs_error_pct}% / p95 {cal.p95_abs_error} tokens[/dim]"
            )


def _print_levers(result: AuditResult, console: Console) -> None:
    if not result.levers:
        return
    table = Table(title="What each lever would have saved on this traffic (each alone)", title_justify="left")
    for name, justify in (("lever", "left"), ("saved in window", "right"), ("per month", "right"),
                          ("requests", "right"), ("confidence", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for lever in result.levers:
        if lever.skipped_reason:
            table.add_row(lever.title, "-", "-", "-", f"[dim]skipped: {safe(lever.skipped_reason)}[/dim]")
        else:
            table.add_row(lever.title, usd(lever.savings_usd), usd(lever.monthly_savings_usd),
                          f"{lever.affected_requests:,}", lever.confidence)
    console.print(table)
    stacked = result.stacked
    if len(stacked.steps) > 1:
        steps = " → ".join(f"{step.title} {usd(step.monthly_stacked_usd)}" for step in stacked.steps)
        console.print(f"Stacked, each on what the ones before it left (the figures above overlap: do not add them):"
                      f" [bold]{usd(stacked.monthly_total_usd)}/month[/bold] ({stacked.share_of_spend:.1%} of spend):"
                      f" {steps}", highlight=False)
    for lever in result.levers:
        if lever.skipped_reason:
            continue
        if lever.name == "semantic_cache" and lever.details.get("threshold_sweep"):
            sweep = "  ".join(
                f"{row['threshold']}: {row['hits']:,} hits {usd(row['savings_usd'])}"
                + (f" (risk {row['false_hit_risk']:.0%})" if row.get("false_hit_risk") is not None else "")
                for row in lever.details["threshold_sweep"]
            )
            console.print(f"  Semantic cache sweep (chosen {lever.details.get('threshold')}): {sweep}")
        for volatile in lever.details.get("volatile_prefixes", [])[:3]:
            console.print(
                f"  [yellow]volatile prefix[/yellow] {safe(str(volatile.get('feature')))}: {safe(str(volatile.get('fix')))}"
            )
        if lever.assumptions:
            console.print(f"  [dim]{lever.title} assumes: " + "; ".join(safe(a) for a in lever.assumptions[:3]) + "[/dim]")
