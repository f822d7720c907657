"""Replay of provider prompt caches over real prompt prefixes, in time order, vectorised.

A prompt is its ordered parts (tool schemas, then messages), each with calibrated tokens. The prefix
ending at part k is identified by a position-salted running hash of the parts' keys, so two
requests share a cached prefix exactly when their first k parts are identical (message
granularity). A cache entry lives in a scope (provider family + model + API key) and stays
alive for the retention window after its last touch. Two kinds of caching:

- automatic (OpenAI, Gemini implicit): every request touches every prefix of its prompt; a request
  reads the longest prefix touched strictly earlier within the retention window, if at least the
  model's minimum, rounded down to the model's increment.
- breakpoints (Anthropic): only prefixes ending at a breakpoint are written (and refreshed); a
  request reads the longest written prefix that a breakpoint of its own can look back to, and
  writes everything from there to its last breakpoint at the write premium.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import numpy as np
import polars as pl

from llmaudit.provider_rules import ANTHROPIC_LOOKBACK_BLOCKS
from llmaudit.sums import exact_sum
from llmaudit.table import REQUEST_NUMBER

PART_SCHEMA = {
    "request_id": REQUEST_NUMBER, "order": pl.Int64, "key": pl.UInt64, "tokens": pl.Float64,
    "component": pl.String, "text_hash": pl.String, "pin": pl.Boolean,
}
"""One prompt part of request `request_id` (`table.REQUEST_NUMBER`):
position `order` within its request, identity `key` (a 64-bit hash: a million requests' parts as strings
of role, kind and text hash were 250 MB), calibrated `tokens`; `pin` forces an Anthropic breakpoint after
the part (a fix that moves static content first pins it)."""
PART_KEY_SEED = 13
TEMPLATE_KEY_BIT = 1 << 63
"""Set in the keys of the parts a volatile-prefix template makes (`volatile_prefix`), clear in the logged parts'."""


def part_key(*columns: str) -> pl.Expr:
    """The key of a logged part: a hash of ``columns`` with TEMPLATE_KEY_BIT clear."""
    return pl.struct(*columns).hash(PART_KEY_SEED) & (TEMPLATE_KEY_BIT - 1)


def template_key(name: str) -> int:
    """The key of a template's part named ``name``: fixed across runs, TEMPLATE_KEY_BIT set."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big") | TEMPLATE_KEY_BIT
RULE_COLUMNS = ("request_id", "scope", "ts", "min_tokens", "increment", "retention_us", "breakpoints")
POLICY_AUTOMATIC = "automatic"
POLICY_NONE = "no breakpoints"
POLICY_STATIC = "breakpoints after tools and system"
POLICY_LAST = "breakpoints after tools, system and the last message"
"""At most 3 breakpoints, plus 1 pinned by a fix: within Anthropic's limit of 4 (ANTHROPIC_MAX_BREAKPOINTS)."""
GROUP_KEYS = ("family", "model", "feature_key")
COMPONENT_CODES = {"tools": 0, "system": 1}
"""The blocks a breakpoint may close; every other component is OTHER_COMPONENT."""
OTHER_COMPONENT = 2


class PromptFix(Protocol):
    """A change to how some requests lay out their prompt, re-simulated to price it."""

    @property
    def family(self) -> str:
        """openai | anthropic | gemini."""
        ...

    @property
    def model(self) -> str:
        """The model as logged."""
        ...

    @property
    def feature(self) -> str | None:
        """The feature the fix applies to."""
        ...

    @property
    def group_key(self) -> str:
        """family + model + feature: the requests the fix applies to."""
        ...

    def rewrite(self, parts: pl.DataFrame) -> pl.DataFrame:
        """The parts as they would be sent after the fix."""
        ...


NEVER = -(2**62)
"""A touch time older than any retention window: 'no earlier touch'."""


def _runs(keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys starts (keys sorted)."""
    change = np.ones(len(keys), dtype=bool)
    change[1:] = keys[1:] != keys[:-1]
    return change


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads nearby integers over all 64 bits (arithmetic wraps modulo 2**64)."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _cache_keys(rows: pl.DataFrame, starts: np.ndarray) -> np.ndarray:
    """Per row, the key of the cache entry for the prefix ending there: scope + a running hash of the parts.

    Rows are sorted by request and order. Each part's hash is salted with its position, summed along the
    request (sums wrap modulo 2**64) and offset by the scope's hash, so equal keys = same scope, same parts."""
    position = rows.get_column("idx").to_numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        salted = _mix(rows.get_column("key_hash").to_numpy().astype(np.uint64) + _mix(position + np.uint64(1)))
        running = np.cumsum(salted, dtype=np.uint64)
        first = np.flatnonzero(starts)
        lengths = np.diff(np.append(first, len(salted)))
        before = (running - salted)[first]
        scope = rows.get_column("scope_hash").to_numpy().astype(np.uint64)
        return running - np.repeat(before, lengths) + scope


def _whole(tokens: pl.Expr, increment: pl.Expr) -> pl.Expr:
    """Whole tokens: rounded down to the increment, or to the nearest token when it is 1 (calibrated counts are
    fractional only through the fitted factor, never by a real fraction of a token)."""
    return pl.when(increment == 1).then(tokens.round(0)) \
        .otherwise(((tokens + 1e-6) / increment).floor() * increment).cast(pl.Int64)


def replay(parts: pl.DataFrame, rules: pl.DataFrame, last_breakpoints: tuple[bool, ...] = (False,)) -> list[pl.DataFrame]:
    """request_id, read_tokens, write_tokens for every request of `rules` (0 when nothing is cached), one frame
    per entry of ``last_breakpoints``: without, or with, a breakpoint after the last message.

    The placements share everything but the touches: the prefixes' keys and their time order are the same,
    so the rows are joined, keyed and sorted once for all of them.
    """
    keyed = rules.select(RULE_COLUMNS).with_row_index("rid").with_columns(
        scope_hash=pl.col("scope").hash(11), ts_us=pl.col("ts").dt.epoch("us"))
    # Numbers only from here on: a part's identity is a hash of its key, its component a small code.
    rows = parts.select(
        "request_id", "order", "tokens", "pin", key_hash="key",
        component=pl.col("component").replace_strict(COMPONENT_CODES, default=OTHER_COMPONENT, return_dtype=pl.UInt8),
    ).join(keyed.drop("scope", "ts"), on="request_id", how="inner").drop("request_id")
    rows = rows.sort(["rid", "order"])
    if rows.height == 0:
        nothing = rules.select("request_id", read_tokens=pl.lit(0, pl.Int64), write_tokens=pl.lit(0, pl.Int64))
        return [nothing for _ in last_breakpoints]
    starts = _runs(rows.get_column("rid").to_numpy())
    rows = rows.with_columns(start=pl.Series(starts)).with_columns(
        idx=pl.int_range(pl.len()) - pl.when(pl.col("start")).then(pl.int_range(pl.len())).forward_fill(),
        cum=pl.col("tokens").fill_null(0.0).cum_sum().over("rid"),
        is_last=pl.col("start").shift(-1, fill_value=True),
    )
    next_component = pl.when(pl.col("is_last")).then(pl.lit(OTHER_COMPONENT, pl.UInt8)).otherwise(pl.col("component").shift(-1))
    block_end = (pl.col("component") != OTHER_COMPONENT) & (next_component != pl.col("component"))
    placements = range(len(last_breakpoints))
    rows = rows.with_columns(*[(pl.col("pin") | block_end | (pl.lit(last) & pl.col("is_last"))).alias(f"bp{i}")
                               for i, last in enumerate(last_breakpoints)])
    rows = rows.with_columns(
        cache_key=pl.Series(_cache_keys(rows, starts), dtype=pl.UInt64),
        # Index of the next breakpoint at or after the row, within the request (a large number when none).
        **{f"next_bp{i}": pl.when(pl.col(f"bp{i}")).then(pl.col("idx")).when(pl.col("is_last")).then(pl.lit(2**31))
           .backward_fill() for i in placements},
        **{f"touch{i}": pl.when(pl.col("breakpoints")).then(pl.col(f"bp{i}") & (pl.col("cum") >= pl.col("min_tokens")))
           .otherwise(pl.lit(True)) for i in placements},
    ).select(  # what the replay reads from here on: the rest is freed before the sort copies every row
        "rid", "idx", "cum", "cache_key", "ts_us", "min_tokens", "retention_us", "breakpoints",
        *[f"{name}{i}" for name in ("next_bp", "touch") for i in placements],
    )
    rows = rows.sort(["cache_key", "ts_us"])
    entry_start = pl.Series(_runs(rows.get_column("cache_key").to_numpy()))
    instant = np.stack([rows.get_column("cache_key").to_numpy().astype(np.int64), rows.get_column("ts_us").to_numpy()])
    instant_start = pl.Series(np.ones(rows.height, dtype=bool) if rows.height < 2 else
                              np.concatenate([[True], (instant[:, 1:] != instant[:, :-1]).any(axis=0)]))
    rows = rows.with_columns(entry_start=entry_start, instant_start=instant_start).with_columns(**{
        f"last_touch{i}": pl.when(pl.col(f"touch{i}")).then(pl.col("ts_us"))
        .when(pl.col("entry_start")).then(pl.lit(NEVER)).forward_fill() for i in placements
    }).with_columns(**{
        f"prev_touch{i}": pl.when(pl.col("entry_start")).then(pl.lit(NEVER)).otherwise(pl.col(f"last_touch{i}").shift(1))
        for i in placements
    }).with_columns(**{
        # The newest touch strictly before this request: requests logged at the same instant never see each other.
        f"prev_touch{i}": pl.when(pl.col("instant_start")).then(pl.col(f"prev_touch{i}")).forward_fill()
        for i in placements
    })

    def eligible(i: int) -> pl.Expr:
        alive = pl.col("ts_us") - pl.col(f"prev_touch{i}") <= pl.col("retention_us")
        reachable = ~pl.col("breakpoints") | (pl.col(f"next_bp{i}") - pl.col("idx") <= ANTHROPIC_LOOKBACK_BLOCKS)
        return alive & reachable & (pl.col("cum") >= pl.col("min_tokens"))

    per_request = rows.group_by("rid").agg(
        *[pl.col("cum").filter(eligible(i)).max().alias(f"hit{i}") for i in placements],
        *[pl.col("cum").filter(pl.col(f"touch{i}") & pl.col("breakpoints")).max().alias(f"written_to{i}")
          for i in placements],
    )
    joined = keyed.join(rules.select("request_id", "increment"), on="request_id").join(per_request, on="rid", how="left")
    out = []
    for i in placements:
        read = _whole(pl.col(f"hit{i}").fill_null(0.0), pl.col("increment"))
        written = pl.when(pl.col("breakpoints")) \
            .then((_whole(pl.col(f"written_to{i}").fill_null(0.0), pl.lit(1)) - read).clip(0)) \
            .otherwise(pl.lit(0, pl.Int64))
        out.append(joined.select("request_id", read_tokens=read, write_tokens=written))
    return out


def _full_prompt_writes(parts: pl.DataFrame, rules: pl.DataFrame, replayed: pl.DataFrame) -> pl.DataFrame:
    """Automatic caching that bills writes (GPT-5.6+): the newly cached rest of the prompt is written."""
    totals = parts.group_by("request_id").agg(total=exact_sum(pl.col("tokens").fill_null(0.0)))
    return replayed.join(rules.select("request_id", "charges_writes", "min_tokens", "increment"), on="request_id") \
        .join(totals, on="request_id", how="left").with_columns(
            write_tokens=pl.when(pl.col("charges_writes") & (pl.col("total") >= pl.col("min_tokens")))
            .then(_whole(pl.col("total"), pl.col("increment")) - pl.col("read_tokens"))
            .otherwise(pl.col("write_tokens")).clip(0),
        ).select("request_id", "read_tokens", "write_tokens")


def _priced(rules: pl.DataFrame, replayed: pl.DataFrame, policy: str) -> pl.DataFrame:
    """Simulated input cost: uncached at the input price, reads and writes at their cache prices."""
    frame = rules.join(replayed, on="request_id", how="left").with_columns(
        read_tokens=pl.min_horizontal(pl.col("read_tokens").fill_null(0), pl.col("input_tokens")),
    ).with_columns(
        write_tokens=pl.min_horizontal(pl.col("write_tokens").fill_null(0), pl.col("input_tokens") - pl.col("read_tokens")),
    )
    uncached = pl.col("input_tokens") - pl.col("read_tokens") - pl.col("write_tokens")
    return frame.select(
        "request_id", *GROUP_KEYS, "read_tokens", "write_tokens",
        sim_input_usd=(uncached * pl.col("unit_input") + pl.col("read_tokens") * pl.col("read_price")
                       + pl.col("write_tokens") * pl.col("write_price")) / 1e6,
        policy=pl.lit(policy),
    )


def simulate(parts: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """Per request: read_tokens, write_tokens, sim_input_usd and the breakpoint policy.

    Breakpoint providers are replayed without breakpoints, with breakpoints after tools and system,
    and with one more after the last message; each (model, feature) keeps the cheapest placement,
    as a team would choose where to put cache_control per feature.
    """
    automatic = rules.filter(~pl.col("breakpoints"))
    explicit = rules.filter(pl.col("breakpoints"))
    frames = []
    if automatic.height:
        replayed = _full_prompt_writes(parts, automatic, replay(parts, automatic)[0])
        frames.append(_priced(automatic, replayed, POLICY_AUTOMATIC))
    if explicit.height:
        none = explicit.select("request_id", read_tokens=pl.lit(0, pl.Int64), write_tokens=pl.lit(0, pl.Int64))
        static, last = replay(parts, explicit, last_breakpoints=(False, True))
        options = pl.concat([
            _priced(explicit, none, POLICY_NONE),
            _priced(explicit, static, POLICY_STATIC),
            _priced(explicit, last, POLICY_LAST),
        ])
        rank = {POLICY_NONE: 0, POLICY_STATIC: 1, POLICY_LAST: 2}
        best = options.group_by([*GROUP_KEYS, "policy"]).agg(cost=exact_sum(pl.col("sim_input_usd"))) \
            .with_columns(rank=pl.col("policy").replace_strict(rank, return_dtype=pl.Int64)) \
            .sort([*GROUP_KEYS, "cost", "rank"], nulls_last=True).unique(list(GROUP_KEYS), keep="first") \
            .select(*GROUP_KEYS, "policy")
        frames.append(options.join(best, on=[*GROUP_KEYS, "policy"], how="inner", nulls_equal=True))
    if not frames:
        return pl.DataFrame(schema={"request_id": REQUEST_NUMBER, "read_tokens": pl.Int64, "write_tokens": pl.Int64,
                                    "sim_input_usd": pl.Float64, "policy": pl.String})
    return pl.concat(frames).drop(list(GROUP_KEYS))
