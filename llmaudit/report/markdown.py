"""A compact Markdown summary for a pull-request comment; every log-derived string is escaped."""

from __future__ import annotations

import re
from pathlib import Path

from llmaudit.redaction import inert_text
from llmaudit.report.terminal import reconciliation, row_cost, usd
from llmaudit.result import AuditResult

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()|~!#])")
HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
MAX_ROWS = 8
AUTOLINKED = re.compile(r"(?<=@)(?=\w)|(?<=:)(?=//)|(?<=www)(?=\.)", re.IGNORECASE)
"""Where GitHub would start a mention (@name), an e-mail link or a link (https://, www.)."""
ZERO_WIDTH = "&#8203;"


def md_escape(text: str) -> str:
    """Log text made inert in Markdown: secrets masked, control characters, markup and HTML characters escaped,
    one line."""
    text = inert_text(" ".join(str(text).split()))
    # HTML as entities, not backslashes: every Markdown renderer shows them as text, and the
    # file itself then holds no tag at all.
    text = "".join(HTML_SPECIAL.get(char, char) for char in text)
    text = MARKDOWN_SPECIAL.sub(r"\\\1", text)
    # A pull-request comment turns @names into notifications and bare addresses into links: a zero-width
    # space (as an entity, so the file shows where it is) keeps each one plain text.
    return AUTOLINKED.sub(ZERO_WIDTH, text)


def render_markdown(result: AuditResult) -> str:
    """The summary as GitHub-flavoured Markdown."""
    s, w = result.summary, result.window
    lines = [
        "## llmaudit",
        "",
        f"**{s.requests:,} requests · {usd(s.cost_usd)}** from {(w.start or '?')[:10]} to {(w.end or '?')[:10]}"
        f" ({w.days:.1f} days) · run-rate **{usd(s.monthly_run_rate_usd)}/month**"
        f" · {usd(s.cost_per_successful_request_usd)} per successful request",
        "",
        "| model | requests | cost | share |",
        "|---|---:|---:|---:|",
    ]
    for row in result.by_model[:MAX_ROWS]:
        lines.append(f"| {md_escape(row.key)} | {row.requests:,} | {row_cost(row)} | {row.share:.1%} |")
    levers = [lever for lever in result.levers if not lever.skipped_reason]
    if levers:
        lines += ["", "| lever (alone) | per month | requests | confidence |", "|---|---:|---:|---|"]
        for lever in levers:
            lines.append(f"| {md_escape(lever.title)} | {usd(lever.monthly_savings_usd)} | {lever.affected_requests:,}"
                         f" | {lever.confidence} |")
        stacked = result.stacked
        if len(stacked.steps) > 1:
            steps = " → ".join(f"{md_escape(step.title)} {usd(step.monthly_stacked_usd)}" for step in stacked.steps)
            lines += ["", f"Stacked, each on what the ones before it left (the alone figures overlap: do not add them):"
                          f" **{usd(stacked.monthly_total_usd)}/month** ({stacked.share_of_spend:.1%} of spend): {steps}"]
    unknown = result.pricing.unknown_models
    if unknown:
        names = ", ".join(f"{md_escape(m.model)} ({m.requests:,} requests)" for m in unknown)
        lines += ["", f"⚠️ Not priced (excluded from totals): {names}"]
    pricing = result.pricing
    if pricing.compared_requests:
        lines += ["", f"Logged cost {usd(pricing.reported_cost_usd or 0.0)} vs computed {usd(pricing.computed_cost_usd or 0.0)}"
                      f" on {pricing.compared_requests:,} requests; {pricing.disagreements:,} differ by more than 1%"]
    if pricing.notes:
        lines += ["", *(f"- Pricing note: {md_escape(note)}" for note in pricing.notes)]
    ing = result.ingest
    if s.failed_requests:
        lines += ["", f"⚠️ {s.failed_requests:,} failed requests ({usd(s.failed_cost_usd)} billed)"]
    if ing.rejected:
        lines += ["", f"⚠️ {ing.rejected:,} records rejected and not in the totals (file, line and reason in audit.json)"]
    if ing.unrecognised_files:
        names = ", ".join(md_escape(Path(u.file).name) for u in ing.unrecognised_files[:MAX_ROWS])
        more = f" and {len(ing.unrecognised_files) - MAX_ROWS:,} more" if len(ing.unrecognised_files) > MAX_ROWS else ""
        lines += ["", f"⚠️ {len(ing.unrecognised_files):,} files not read (not a known log format, not in the totals):"
                      f" {names}{more}"]
    lines += ["", f"<sub>{reconciliation(ing)}</sub>", ""]
    return "\n".join(lines)


def write_markdown(result: AuditResult, path: Path) -> None:
    """Write the Markdown summary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(result), encoding="utf-8")
