"""Where the tokens go: each request's input split into prompt components, priced.

Input components in prompt order: tools, system, history, context, query, overhead (per-message
formatting and whatever the calibration leaves unexplained), and `unlogged` for requests whose
prompt text the log does not carry. Output splits into output and reasoning. Cached input is a
prefix, so cache reads (then cache writes) are allocated to the earliest components first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import polars as pl

from llmaudit.cores import SIDE_BY_SIDE_MAX_REQUESTS, Pending
from llmaudit.redaction import excerpt_expr
from llmaudit.sums import exact_sum
from llmaudit.tokens.calibration import Calibration, calibrate_model, default_calibration
from llmaudit.tokens.counting import CountJob
from llmaudit.tokens.encodings import encoding_for_model

INPUT_COMPONENTS = ("tools", "system", "history", "context", "query", "overhead", "unlogged")
OUTPUT_COMPONENTS = ("output", "reasoning")
PER_USE_COMPONENTS = ("web_search",)
"""Billed per use, not per token (a provider-run web search): no tokens, their cost alone."""
MEDIA_KINDS = ("image", "audio", "file")
PART_COLUMNS = ("request_id", "seq", "role", "kind", "component", "text_hash")
"""The columns of a prompt part the levers read (`PendingAttribution.prompt_parts`, `media_parts`)."""
TOP_TEXTS = 10
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class ComponentSpend:
    """Tokens and money of one prompt component."""

    tokens: int
    cost_usd: float
    share: float
    """Share of the group's total cost (input and output together)."""


@dataclass(frozen=True)
class RepeatedText:
    """A text sent again and again (a system prompt, a context block), ranked by what it cost in total."""

    kind: str
    """system | context"""
    text_hash: str
    excerpt: str
    tokens: int
    """Tokens per send (calibrated)."""
    requests: int
    total_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class AttributionCheck:
    """How well counted text plus calibrated overhead predicts the reported input."""

    requests_with_text: int
    share_exact: float | None
    worst_abs_error: int | None
    media_parts_excluded: int
    """Images/audio/files: no published per-part rule applies to what the logs keep; their tokens stay in overhead."""


@dataclass(frozen=True)
class Attribution:
    """The attribution of every priced request, overall and per feature and model."""

    overall: dict[str, ComponentSpend]
    by_feature: dict[str, dict[str, ComponentSpend]]
    by_model: dict[str, dict[str, ComponentSpend]]
    top_system_prompts: list[RepeatedText]
    top_context_blocks: list[RepeatedText]
    check: AttributionCheck
    encodings: dict[str, str]
    calibration: list[Calibration]


def _prompt_parts(priced: pl.DataFrame, messages: pl.DataFrame, model_enc: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(text parts with their encoding, media parts) of the priced requests' prompts."""
    req_enc = priced.select("request_id", "model").join(model_enc, on="model", how="left", nulls_equal=True)
    msgs = messages.join(req_enc.select("request_id", "encoding"), on="request_id", how="inner")
    return msgs.filter(~pl.col("kind").is_in(MEDIA_KINDS)), msgs.filter(pl.col("kind").is_in(MEDIA_KINDS))


def _start_counts(text_msgs: pl.DataFrame, texts: pl.DataFrame, patterns: tuple) -> CountJob:
    query_hashes = set(text_msgs.filter(pl.col("component") == "query").get_column("text_hash").unique().to_list())
    return CountJob(text_msgs.select("text_hash", "encoding"), texts, query_hashes, patterns)


def _looked_up(frame: pl.DataFrame, table: pl.DataFrame, keys: list[str]) -> list[pl.Series]:
    """``table``'s other columns for each row of ``frame``, in its row order (null where no row matches).

    A left join of the keys alone: ``frame.with_columns`` of the result shares the frame's own columns,
    where a join of the whole frame copies them (a million requests' parts: 0.5 GB). ``table`` has one
    row per key.
    """
    found = frame.select(keys).join(table, on=keys, how="left", maintain_order="left")
    if found.height != frame.height:
        raise ValueError(f"lookup table has several rows for one key {keys}")
    return [found.get_column(name) for name in table.columns if name not in keys]


def _per_request_tokens(text_msgs: pl.DataFrame, media: pl.DataFrame, counts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw token counts per request and component; and the message-level rows (for repeated texts)."""
    rows = text_msgs.with_columns(_looked_up(text_msgs, counts, ["text_hash", "encoding"])).with_columns(
        context_tokens=pl.when(pl.col("component") == "query").then(pl.col("context_tokens")).otherwise(0)
    )
    comp = pl.col("component")
    per_request = rows.group_by("request_id").agg(
        t_tools=pl.col("tokens").filter(comp == "tools").sum(),
        t_system=pl.col("tokens").filter(comp == "system").sum(),
        t_history=pl.col("tokens").filter(comp == "history").sum(),
        t_context=pl.col("tokens").filter(comp == "context").sum() + pl.col("context_tokens").sum(),
        t_query=(pl.col("tokens") - pl.col("context_tokens")).filter(comp == "query").sum(),
        n_messages=pl.len() - (comp == "tools").sum(),
    )
    media_count = media.group_by("request_id").agg(n_media=pl.len())
    per_request = per_request.join(media_count, on="request_id", how="full", coalesce=True).with_columns(
        pl.col("n_media").fill_null(0), *(pl.col(c).fill_null(0) for c in per_request.columns if c.startswith(("t_", "n_")))
    )
    return per_request, rows


def _calibrate(joined: pl.DataFrame, model_enc: pl.DataFrame) -> list[Calibration]:
    usable = joined.filter(
        (pl.col("n_messages") > 0) & (pl.col("n_media") == 0) & ~pl.col("is_aggregate") & (pl.col("status") == "ok")
        & (pl.col("input_tokens") > 0)
    ).select(
        "request_id", "logged_id", "model",
        text=pl.col("t_system") + pl.col("t_history") + pl.col("t_context") + pl.col("t_query"),
        tools=pl.col("t_tools"), messages=pl.col("n_messages"), reported=pl.col("input_tokens"),
        # In the logged ids' order: the fit's sums are then added in one order, however the files were read.
    ).sort("request_id")
    calibrations = []
    for model, encoding, exact in model_enc.iter_rows():
        sample = usable.filter(pl.col("model") == model) if model is not None else usable.filter(pl.col("model").is_null())
        label = model or "(no model)"
        calibrations.append(calibrate_model(label, encoding, exact, sample) if sample.height
                            else default_calibration(label, encoding, exact))
    return sorted(calibrations, key=lambda c: c.model)


def _attributed(joined: pl.DataFrame, calibrations: list[Calibration]) -> pl.DataFrame:
    """Calibrated component tokens that sum to each request's reported input, then priced."""
    params = pl.DataFrame([
        {"cal_model": c.model, "factor": c.factor, "tools_factor": c.tools_factor, "per_message": c.per_message,
         "constant": c.constant, "exact": c.exact_tokenizer} for c in calibrations
    ], schema={"cal_model": pl.String, "factor": pl.Float64, "tools_factor": pl.Float64, "per_message": pl.Float64,
               "constant": pl.Float64, "exact": pl.Boolean})
    frame = joined.with_columns(cal_model=pl.col("model").fill_null("(no model)")).join(params, on="cal_model", how="left")
    has_text = pl.col("n_messages") > 0
    scaled = {
        "tools": pl.col("tools_factor") * pl.col("t_tools"),
        **{name: pl.col("factor") * pl.col(f"t_{name}") for name in ("system", "history", "context", "query")},
    }
    reported = pl.col("input_tokens").cast(pl.Float64)
    frame = frame.with_columns(**{f"a_{k}": pl.when(has_text).then(v).otherwise(0.0) for k, v in scaled.items()})
    explained = pl.sum_horizontal(*(pl.col(f"a_{k}") for k in scaled))
    shrink = pl.when(explained > reported).then(reported / explained).otherwise(1.0)
    frame = frame.with_columns(**{f"a_{k}": pl.col(f"a_{k}") * shrink for k in scaled})
    explained = pl.sum_horizontal(*(pl.col(f"a_{k}") for k in scaled))
    predicted = (pl.col("factor") * (pl.col("t_system") + pl.col("t_history") + pl.col("t_context") + pl.col("t_query"))
                 + pl.col("tools_factor") * pl.col("t_tools") + pl.col("per_message") * pl.col("n_messages")
                 + pl.col("constant"))
    frame = frame.with_columns(
        a_overhead=pl.when(has_text).then(reported - explained).otherwise(0.0),
        a_unlogged=pl.when(has_text).then(0.0).otherwise(reported),
        residual=pl.when(has_text & (pl.col("n_media") == 0))
        .then((reported - pl.when(pl.col("exact")).then(predicted.round(0)).otherwise(predicted)).abs()),
    )
    return _price_components(frame)


def _price_components(frame: pl.DataFrame) -> pl.DataFrame:
    """Allocate cache reads then writes to the earliest components, and price each component."""
    read = pl.col("cache_read_tokens").cast(pl.Float64)
    write = pl.col("cache_write_tokens").cast(pl.Float64)
    write_price = pl.when(write > 0).then(
        ((write - pl.col("cache_write_1h_tokens")) * pl.col("unit_cache_write")
         + pl.col("cache_write_1h_tokens") * pl.col("unit_cache_write_1h")) / write
    ).otherwise(0.0)
    before = pl.lit(0.0)
    costs = {}
    for name in INPUT_COMPONENTS:
        tokens = pl.col(f"a_{name}")
        read_part = pl.min_horizontal((read - before).clip(0.0), tokens)
        write_part = pl.min_horizontal((read + write - before).clip(0.0), tokens) - read_part
        uncached = tokens - read_part - write_part
        costs[f"c_{name}"] = (uncached * pl.col("unit_input") + read_part * pl.col("unit_cache_read")
                              + write_part * write_price) / 1e6
        before = before + tokens
    visible = (pl.col("output_tokens") - pl.col("reasoning_tokens")).cast(pl.Float64)
    costs["c_output"] = visible * pl.col("unit_output") / 1e6
    costs["c_reasoning"] = pl.col("reasoning_tokens") * pl.col("unit_reasoning") / 1e6
    costs["c_web_search"] = pl.col("cost_web_search_usd")
    return frame.with_columns(
        a_output=visible, a_reasoning=pl.col("reasoning_tokens").cast(pl.Float64), a_web_search=pl.lit(0.0), **costs
    ).with_columns(pl.col(f"c_{n}").fill_null(0.0) for n in (*INPUT_COMPONENTS, *OUTPUT_COMPONENTS, *PER_USE_COMPONENTS))


def _spend(frame: pl.DataFrame) -> dict[str, ComponentSpend]:
    names = (*INPUT_COMPONENTS, *OUTPUT_COMPONENTS, *PER_USE_COMPONENTS)
    sums = frame.select(*(exact_sum(pl.col(f"a_{n}")) for n in names), *(exact_sum(pl.col(f"c_{n}")) for n in names)).row(0, named=True)
    total = sum(float(sums[f"c_{n}"] or 0.0) for n in names)
    return {
        n: ComponentSpend(int(round(float(sums[f"a_{n}"] or 0.0))), round(float(sums[f"c_{n}"] or 0.0), 6),
                          round(float(sums[f"c_{n}"] or 0.0) / total, 6) if total else 0.0)
        for n in names
    }


def _grouped(frame: pl.DataFrame, key: str) -> dict[str, dict[str, ComponentSpend]]:
    out = {}
    for (value,), group in frame.group_by([key], maintain_order=True):
        out[str(value) if value is not None else "(none)"] = _spend(group)
    return dict(sorted(out.items()))


def _repeated(rows: pl.DataFrame, attributed: pl.DataFrame, texts: pl.DataFrame) -> tuple[list[RepeatedText], list[RepeatedText]]:
    """Top system prompts and context blocks by total spend (per-send tokens x times sent)."""
    unit = attributed.select("request_id", "factor", "unit_input", "request_count")
    base = rows.join(unit, on="request_id", how="inner")
    # Spend at the uncached input rate: what each repetition costs before any caching.
    system = base.filter(pl.col("component") == "system").select(
        "request_id", "text_hash", tokens=pl.col("tokens") * pl.col("factor"), unit=pl.col("unit_input"))
    context_msgs = base.filter(pl.col("component") == "context").select(
        "request_id", "text_hash", tokens=pl.col("tokens") * pl.col("factor"), unit=pl.col("unit_input"))
    context_inline = base.filter(pl.col("context_hash").is_not_null() & (pl.col("context_tokens") > 0)).select(
        "request_id", text_hash=pl.col("context_hash"), tokens=pl.col("context_tokens") * pl.col("factor"),
        unit=pl.col("unit_input"))
    inline_excerpts = rows.filter(pl.col("context_hash").is_not_null()).select(
        text_hash=pl.col("context_hash"), excerpt=pl.col("context_excerpt").str.slice(0, EXCERPT_CHARS))  # redacted when counted

    def excerpts(top: pl.DataFrame) -> pl.DataFrame:
        """Excerpts of the top texts only (reading every text's opening would touch most of the texts)."""
        stored = top.join(texts.select("text_hash", "text"), on="text_hash", how="inner").select(
            "text_hash", excerpt=excerpt_expr("text", EXCERPT_CHARS))
        inline = inline_excerpts.join(top, on="text_hash", how="semi")
        return pl.concat([stored, inline]).unique("text_hash", keep="first", maintain_order=True)

    return (_top(system, excerpts, "system"), _top(pl.concat([context_msgs, context_inline]), excerpts, "context"))


def _top(parts: pl.DataFrame, excerpts: Callable[[pl.DataFrame], pl.DataFrame], kind: str) -> list[RepeatedText]:
    if parts.height == 0:
        return []
    grouped = parts.group_by("text_hash").agg(
        tokens=pl.col("tokens").median(), requests=pl.col("request_id").n_unique(), total_tokens=exact_sum(pl.col("tokens")),
        cost=exact_sum(pl.col("tokens") * pl.col("unit").fill_null(0.0)) / 1e6,
    ).filter(pl.col("requests") > 1).sort(["cost", "text_hash"], descending=[True, False]).head(TOP_TEXTS)
    grouped = grouped.join(excerpts(grouped.select("text_hash")), on="text_hash", how="left")
    return [
        RepeatedText(kind, r["text_hash"], r["excerpt"] or "", int(round(r["tokens"])), int(r["requests"]),
                     int(round(r["total_tokens"])), round(float(r["cost"]), 6))
        for r in grouped.sort(["cost", "text_hash"], descending=[True, False]).iter_rows(named=True)
    ]


def attribute(
    priced: pl.DataFrame, messages: pl.DataFrame, texts: pl.DataFrame, patterns: tuple = ()
) -> tuple[Attribution, pl.DataFrame]:
    """Split every priced request's tokens and cost into prompt components.

    Also returns the message parts with their calibrated token counts (`tokens`) and the
    retrieved-context part of query messages (`context_tokens`), for the levers.
    """
    return PendingAttribution(priced, messages, texts, patterns).finish()


class PendingAttribution:
    """An attribution whose token counting has started (on the other cores when the volume pays).

    ``prompt_parts`` (the message parts `attribute` returns, without token counts) is ready at once,
    for work that can go on meanwhile; `finish` waits for the counts and completes the attribution.
    """

    def __init__(self, priced: pl.DataFrame, messages: pl.DataFrame, texts: pl.DataFrame, patterns: tuple = ()) -> None:
        models = priced.select("model").unique().sort("model", nulls_last=True).get_column("model").to_list()
        self._choices = {m: encoding_for_model(m) for m in models}
        self._models = models
        self._model_enc = pl.DataFrame(
            {"model": models, "encoding": [self._choices[m].encoding for m in models],
             "exact": [self._choices[m].exact for m in models]},
            schema={"model": pl.String, "encoding": pl.String, "exact": pl.Boolean},
        )
        self._priced, self._texts = priced, texts
        self._text_msgs, self._media = _prompt_parts(priced, messages, self._model_enc)
        self._job = _start_counts(self._text_msgs, texts, patterns)
        self.prompt_parts = self._text_msgs.select(PART_COLUMNS)
        self.media_parts = self._media.select(PART_COLUMNS)
        self._finished: tuple[Attribution, pl.DataFrame] | None = None
        self._started: tuple[pl.DataFrame, Pending[Attribution]] | None = None
        """The calibrated message tokens, and the report-only part started once they are made."""

    def wait_for_counts(self) -> None:
        """Return once every text is counted (the counting workers have ended)."""
        self._job.result()

    def cancel(self) -> None:
        """Stop counting (the attribution is no longer wanted), and the report's thread once it is done."""
        self._job.cancel()
        if self._started is not None:
            self._started[1].close()

    def message_tokens(self) -> pl.DataFrame:
        """The message parts with calibrated `tokens` and `context_tokens` (computed once): what the levers read.

        The rest of the attribution (spend per component, the top repeated texts: the report's alone) then
        starts on a second thread when two cores and `SIDE_BY_SIDE_MAX_REQUESTS` allow, beside the levers.
        """
        if self._finished is not None:
            return self._finished[1]
        if self._started is None:
            per_request, rows = _per_request_tokens(self._text_msgs, self._media, self._job.result())
            calibrated = _calibrated(self._priced, self._model_enc, per_request, rows)
            self._started = calibrated.message_tokens, Pending(
                partial(self._attribution, calibrated), side_by_side=self._priced.height <= SIDE_BY_SIDE_MAX_REQUESTS)
        return self._started[0]

    def finish(self) -> tuple[Attribution, pl.DataFrame]:
        """The attribution, and the message parts with calibrated `tokens` and `context_tokens` (computed once)."""
        if self._finished is None:
            self.message_tokens()
            assert self._started is not None
            tokens, report = self._started
            self._finished = report.result(), tokens
            report.close()
            self._started = None  # the rows held for the report can go
        return self._finished

    def _attribution(self, calibrated: _Calibrated) -> Attribution:
        attributed = calibrated.attributed
        residuals = attributed.get_column("residual").drop_nulls()
        check = AttributionCheck(
            requests_with_text=residuals.len(),
            share_exact=round(float((residuals < 0.5).mean()), 6) if residuals.len() else None,  # type: ignore[arg-type]
            worst_abs_error=int(round(float(residuals.max()))) if residuals.len() else None,  # type: ignore[arg-type]
            media_parts_excluded=int(attributed.get_column("n_media").sum() or 0),
        )
        top_system, top_context = _repeated(calibrated.rows, attributed, self._texts)
        return Attribution(
            overall=_spend(attributed),
            by_feature=_grouped(attributed, "feature"),
            by_model=_grouped(attributed, "model"),
            top_system_prompts=top_system,
            top_context_blocks=top_context,
            check=check,
            encodings={m or "(no model)": self._choices[m].encoding + ("" if self._choices[m].exact else " (proxy)")
                       for m in self._models},
            calibration=calibrated.calibrations,
        )


@dataclass(frozen=True)
class _Calibrated:
    """The calibrated counts: per request (`attributed`), per message part (`rows` raw, `message_tokens` calibrated)."""

    calibrations: list[Calibration]
    attributed: pl.DataFrame
    rows: pl.DataFrame
    message_tokens: pl.DataFrame


def _calibrated(priced: pl.DataFrame, model_enc: pl.DataFrame, per_request: pl.DataFrame,
                rows: pl.DataFrame) -> _Calibrated:
    zero_cols = [c for c in per_request.columns if c != "request_id"]
    joined = priced.filter(pl.col("cost_source") == "computed").join(per_request, on="request_id", how="left") \
        .with_columns(pl.col(c).fill_null(0) for c in zero_cols)
    calibrations = _calibrate(joined, model_enc)
    attributed = _attributed(joined, calibrations)
    factors = attributed.select("request_id", "factor", "tools_factor")
    message_tokens = rows.with_columns(_looked_up(rows, factors, ["request_id"])).with_columns(
        tokens=pl.when(pl.col("component") == "tools").then(pl.col("tokens") * pl.col("tools_factor").fill_null(1.0))
        .otherwise(pl.col("tokens") * pl.col("factor").fill_null(1.0)),
        context_tokens=pl.col("context_tokens") * pl.col("factor").fill_null(1.0),
    ).select("request_id", "seq", "role", "kind", "component", "text_hash", "tokens", "context_tokens")
    return _Calibrated(calibrations, attributed, rows, message_tokens)
