"""The self-contained HTML page: a jinja2 template shipped as package data, inline CSS and SVG."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from llmaudit.redaction import redact_text
from llmaudit.report.json import to_dict
from llmaudit.report.terminal import reconciliation, usd
from llmaudit.result import AuditResult, BreakdownRow

TEMPLATE = "report.html.j2"
BAR_WIDTH = 360


def _load_template(name: str) -> str | None:
    try:
        return resources.files("llmaudit.templates").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _redact_value(value: object) -> object:
    """Mask secrets in a string about to be rendered; other values (numbers, None, markup) pass unchanged."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return redact_text(value)
    return value


def _environment() -> Environment:
    env = Environment(
        loader=FunctionLoader(_load_template),
        autoescape=select_autoescape(default=True, default_for_string=True),
        # Every value written into the page passes here first: no log text shows a secret,
        # whether or not the template remembered the `redact` filter.
        finalize=_redact_value,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usd"] = usd
    env.filters["redact"] = lambda text: redact_text(str(text))
    env.filters["pct"] = lambda value: f"{value:.1%}"
    env.filters["thousands"] = lambda value: f"{value:,}"
    env.filters["reconciliation"] = reconciliation
    return env


def day_bars(rows: list[BreakdownRow], height: int = 120) -> dict[str, object]:
    """Geometry of an inline SVG bar chart of daily spend."""
    peak = max((r.cost_usd for r in rows), default=0.0) or 1.0
    width = max(len(rows), 1)
    step = 640 / width
    bars = [
        {"x": round(i * step, 2), "w": round(max(step - 1, 1), 2), "h": round(r.cost_usd / peak * height, 2),
         "label": f"{r.key}: {usd(r.cost_usd)} ({r.requests:,} requests)"}
        for i, r in enumerate(rows)
    ]
    return {"bars": bars, "height": height, "peak": usd(peak)}


def render_html(result: AuditResult) -> str:
    """The report page as one HTML string (no external resources, no scripts)."""
    template = _environment().get_template(TEMPLATE)
    return template.render(r=result, data=to_dict(result), days=day_bars(result.by_day), bar_width=BAR_WIDTH)


def write_html(result: AuditResult, path: Path) -> None:
    """Write the HTML report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
