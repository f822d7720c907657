"""Per-model calibration: how the provider's reported input relates to the text we can count.

Model: reported_input ≈ factor·text_tokens + tools_factor·tool_schema_tokens
                        + per_message·messages + constant.
For OpenAI models the tokenizer is exact (factor = 1) and only the formatting overhead is
fitted; for models without a public tokenizer the proxy encoding's factor is fitted too.
Errors are measured on held-back requests (every fifth request id by hash), never on the
requests the fit saw, unless there are too few to hold any back (then it says so).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

DEFAULT_PER_MESSAGE = 3.0
"""OpenAI chat formatting: each message costs ~3 tokens (<|start|>role ... <|end|>)."""
DEFAULT_CONSTANT = 3.0
"""OpenAI chat formatting: the reply is primed with ~3 tokens."""
MIN_FIT = 3
ROWS_PER_PARAMETER = 5
"""A slope is fitted only with at least this many requests per fitted parameter."""
HOLDOUT_EVERY = 5


@dataclass(frozen=True)
class Calibration:
    """One model's fitted token relation and its measured error."""

    model: str
    encoding: str
    exact_tokenizer: bool
    factor: float
    tools_factor: float
    per_message: float
    constant: float
    fitted_on: int
    held_out: int
    evaluated_in_sample: bool
    """True when too few requests to hold any back: the errors are in-sample (optimistic)."""
    median_abs_error: float | None
    p95_abs_error: float | None
    median_abs_error_pct: float | None
    share_exact: float | None

    def predict(self, text: np.ndarray, tools: np.ndarray, messages: np.ndarray) -> np.ndarray:
        """Predicted reported input tokens."""
        raw = self.factor * text + self.tools_factor * tools + self.per_message * messages + self.constant
        return np.rint(raw) if self.exact_tokenizer else raw


def _held_out(logged_ids: list[str]) -> np.ndarray:
    return np.array([int(hashlib.blake2b(r.encode(), digest_size=2).hexdigest(), 16) % HOLDOUT_EVERY == 0
                     for r in logged_ids], dtype=bool)


def _varies(values: np.ndarray) -> bool:
    return values.size > 1 and float(np.ptp(values)) > 0


def _fit(text: np.ndarray, tools: np.ndarray, msgs: np.ndarray, reported: np.ndarray, exact: bool) -> tuple[float, float, float, float]:
    """(factor, tools_factor, per_message, constant) by least squares over the columns that vary."""
    factor, tools_factor, per_message = 1.0, 1.0, DEFAULT_PER_MESSAGE
    target = reported.astype(float)
    columns: list[tuple[str, np.ndarray]] = []
    if not exact and _varies(text):
        columns.append(("factor", text))
    else:
        target = target - factor * text
    if _varies(tools):
        columns.append(("tools", tools))
    else:
        target = target - tools_factor * tools
    if _varies(msgs):
        columns.append(("messages", msgs))
    else:
        target = target - per_message * msgs
    # Thin samples fit fewer slopes: per-message first, then tools, are left at their defaults.
    while columns and len(target) < ROWS_PER_PARAMETER * (len(columns) + 1):
        name, values = columns.pop()
        default = {"messages": per_message, "tools": tools_factor, "factor": factor}[name]
        target = target - default * values
    if columns and len(target) > len(columns):
        design = np.column_stack([c for _, c in columns] + [np.ones_like(target)])
        solution, *_ = np.linalg.lstsq(design, target, rcond=None)
        fitted = dict(zip([name for name, _ in columns], solution[:-1], strict=True))
        constant = float(solution[-1])
        factor = float(fitted.get("factor", factor))
        tools_factor = float(fitted.get("tools", tools_factor))
        per_message = float(fitted.get("messages", per_message))
        if factor <= 0 or tools_factor < 0:
            # A degenerate fit (collinear columns): fall back to a plain ratio.
            factor, tools_factor, per_message = _ratio(text, tools, msgs, reported), 1.0, DEFAULT_PER_MESSAGE
            constant = float(np.median(reported - factor * text - tools - per_message * msgs))
    else:
        constant = float(np.median(target)) if target.size else DEFAULT_CONSTANT
    if exact:
        per_message, constant = float(round(per_message)), float(round(constant))
        tools_factor = round(tools_factor, 4)
    return factor, tools_factor, per_message, constant


def _ratio(text: np.ndarray, tools: np.ndarray, msgs: np.ndarray, reported: np.ndarray) -> float:
    base = text + tools
    ok = base > 0
    return float(np.median(reported[ok] / base[ok])) if ok.any() else 1.0


def calibrate_model(model: str, encoding: str, exact: bool, sample: pl.DataFrame) -> Calibration:
    """Fit one model on requests with known full input (columns logged_id, text, tools, messages, reported)."""
    ids = sample.get_column("logged_id").to_list()
    text = sample.get_column("text").to_numpy().astype(float)
    tools = sample.get_column("tools").to_numpy().astype(float)
    msgs = sample.get_column("messages").to_numpy().astype(float)
    reported = sample.get_column("reported").to_numpy().astype(float)
    if len(ids) < MIN_FIT:
        return Calibration(model, encoding, exact, 1.0, 1.0, DEFAULT_PER_MESSAGE, DEFAULT_CONSTANT, 0, 0, True,
                           None, None, None, None)
    hold = _held_out(ids)
    in_sample = hold.sum() == 0 or (~hold).sum() < MIN_FIT
    train = np.ones_like(hold) if in_sample else ~hold
    test = np.ones_like(hold) if in_sample else hold
    params = _fit(text[train], tools[train], msgs[train], reported[train], exact)
    calibration = Calibration(model, encoding, exact, *params, int(train.sum()), 0 if in_sample else int(test.sum()),
                              bool(in_sample), None, None, None, None)
    errors = np.abs(calibration.predict(text[test], tools[test], msgs[test]) - reported[test])
    pct = errors / np.maximum(reported[test], 1.0) * 100
    return Calibration(
        **{**calibration.__dict__,
           "median_abs_error": round(float(np.median(errors)), 3),
           "p95_abs_error": round(float(np.percentile(errors, 95)), 3),
           "median_abs_error_pct": round(float(np.median(pct)), 3),
           "share_exact": round(float(np.mean(errors < 0.5)), 4)},
    )


def default_calibration(model: str, encoding: str, exact: bool) -> Calibration:
    """The uncalibrated relation used when a model has no request with known full input."""
    return Calibration(model, encoding, exact, 1.0, 1.0, DEFAULT_PER_MESSAGE, DEFAULT_CONSTANT, 0, 0, True,
                       None, None, None, None)
