"""Prompt layouts that break a shared prefix: tool lists in shuffled order, static content after varying content.

Both are found per (provider, model, feature) from the parts' identities alone and fixed by
reordering parts: the replay then prices the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from llmaudit.redaction import excerpt_expr

MIN_REQUESTS = 3
"""A layout problem is reported only when it repeats at least this often."""
VARYING_FIRST_SHARE = 0.5
"""The first message part 'varies' when at least this share of the group's requests have distinct ones."""
MIN_STATIC_SHARE = 0.2
"""A later part is 'static' when it is identical in at least this share of the group's requests."""
MAX_PER_GROUP = 3
EXAMPLES = 3
EXCERPT_CHARS = 120
TOOL_NAME = re.compile(r'"name"\s*:\s*"([^"]{1,80})"')


@dataclass(frozen=True)
class ToolOrder:
    """The same set of tool schemas sent in several orders by one feature."""

    family: str
    model: str
    feature: str | None
    group_key: str
    set_key: str
    requests: int
    orders: int
    order_examples: tuple[tuple[str, ...], ...]
    """A few of the orders seen, as tool names."""

    def rewrite(self, parts: pl.DataFrame) -> pl.DataFrame:
        """Tools in one fixed order (here: by content hash) for every request sending this set."""
        sets = _tool_sets(parts.filter(pl.col("group_key") == self.group_key)).filter(pl.col("set_key") == self.set_key)
        target = (pl.col("component") == "tools") & pl.col("request_id").is_in(sets.get_column("request_id").implode())
        tools = parts.filter(target).with_columns(
            order=-4 * (pl.col("text_hash").rank("ordinal").over("request_id").cast(pl.Int64)),
        )
        return pl.concat([parts.filter(~target), tools])


@dataclass(frozen=True)
class StaticAfterVarying:
    """A long part identical across a feature's requests that comes after a first part that varies."""

    family: str
    model: str
    feature: str | None
    group_key: str
    key: int
    component: str
    tokens: float
    requests: int
    first_varies_share: float
    excerpt: str
    first_component: str

    def rewrite(self, parts: pl.DataFrame) -> pl.DataFrame:
        """The static part moved to the start of the prompt (after tools), with a breakpoint after it."""
        first = parts.filter((pl.col("group_key") == self.group_key) & (pl.col("component") != "tools")) \
            .group_by("request_id").agg(first_order=pl.col("order").min())
        marked = parts.join(first, on="request_id", how="left")
        move = (pl.col("group_key") == self.group_key) & (pl.col("key") == self.key) & (pl.col("order") > pl.col("first_order"))
        return marked.with_columns(
            order=pl.when(move).then(pl.lit(-1, pl.Int64)).otherwise(pl.col("order")),
            pin=pl.when(move).then(pl.lit(True)).otherwise(pl.col("pin")),
        ).drop("first_order")


def _tool_sets(parts: pl.DataFrame) -> pl.DataFrame:
    """request_id, group_key, order_key (tools as sent), set_key (tools sorted)."""
    return parts.filter(pl.col("component") == "tools").sort(["request_id", "order"], descending=[False, True]) \
        .group_by("request_id", maintain_order=True).agg(
            pl.col("group_key").first(),
            order_key=pl.col("text_hash").str.join("|"),
            set_key=pl.col("text_hash").sort().str.join("|"),
            hashes=pl.col("text_hash"),
        )


def _names(hashes: list[str], names: dict[str, str]) -> tuple[str, ...]:
    return tuple(names.get(h, h[:8]) for h in hashes)


def find_tool_orders(parts: pl.DataFrame, texts: pl.DataFrame, rules: pl.DataFrame) -> list[ToolOrder]:
    """Tool sets that a feature sends in more than one order."""
    sets = _tool_sets(parts)
    shuffled = sets.group_by(["group_key", "set_key"]).agg(
        requests=pl.len(), orders=pl.col("order_key").n_unique(),
        examples=pl.col("hashes").unique(maintain_order=True).head(EXAMPLES),
    ).filter((pl.col("orders") > 1) & (pl.col("requests") >= MIN_REQUESTS)).sort(["requests", "set_key"], descending=[True, False])
    if shuffled.height == 0:
        return []
    wanted = {h for row in shuffled.get_column("set_key").to_list() for h in row.split("|")}
    names = {
        row["text_hash"]: (match.group(1) if (match := TOOL_NAME.search(row["text"] or "")) else row["text_hash"][:8])
        for row in texts.filter(pl.col("text_hash").is_in(list(wanted))).iter_rows(named=True)
    }
    groups = rules.select("group_key", "family", "model", "feature").unique("group_key")
    found = []
    for row in shuffled.join(groups, on="group_key", how="left").iter_rows(named=True):
        found.append(ToolOrder(row["family"], row["model"], row["feature"], row["group_key"], row["set_key"],
                               row["requests"], row["orders"], tuple(_names(list(e), names) for e in row["examples"])))
    return found


def find_static_after_varying(parts: pl.DataFrame, texts: pl.DataFrame, rules: pl.DataFrame) -> list[StaticAfterVarying]:
    """Parts identical across many requests of a feature, placed after a first message part that varies."""
    # Each request's first message part, found by sorting three narrow columns, not every part (a million
    # requests: 5M parts, 1 GB copied and sorted); the other parts are only gathered for the groups that qualify.
    is_message = pl.col("component") != "tools"
    firsts = (
        parts.select("request_id", "order", message=is_message).with_row_index("row").filter("message")
        .sort(["request_id", "order", "row"]).filter(pl.col("request_id").is_first_distinct()).get_column("row")
    )
    first = parts.select(pl.all().gather(firsts)).select(
        "request_id", first_key="key", first_component="component", first_row=firsts)
    groups = first.join(rules.select("request_id", "group_key", "min_tokens"), on="request_id").group_by("group_key").agg(
        group_requests=pl.len(), first_distinct=pl.col("first_key").n_unique(),
        first_component=pl.col("first_component").mode().sort().first(), min_tokens=pl.col("min_tokens").first(),
    ).filter((pl.col("group_requests") >= MIN_REQUESTS)
             & (pl.col("first_distinct") >= VARYING_FIRST_SHARE * pl.col("group_requests")))
    if groups.height == 0:
        return []
    later = parts.with_row_index("row").filter(is_message & pl.col("group_key").is_in(groups.get_column("group_key").implode())) \
        .join(first, on="request_id").filter(pl.col("row") != pl.col("first_row")).join(groups, on="group_key")
    candidates = later.group_by(["group_key", "key"]).agg(
        requests=pl.col("request_id").n_unique(), prefixes=pl.col("first_key").n_unique(),
        tokens=pl.col("tokens").max(), component=pl.col("component").first(), text_hash=pl.col("text_hash").first(),
        group_requests=pl.col("group_requests").first(), first_distinct=pl.col("first_distinct").first(),
        first_component=pl.col("first_component").first(), min_tokens=pl.col("min_tokens").first(),
    ).filter(
        (pl.col("requests") >= MIN_REQUESTS) & (pl.col("requests") >= MIN_STATIC_SHARE * pl.col("group_requests"))
        & (pl.col("prefixes") >= VARYING_FIRST_SHARE * pl.col("requests")) & (pl.col("tokens") >= pl.col("min_tokens"))
    ).with_columns(weight=pl.col("requests") * pl.col("tokens")) \
        .sort(["group_key", "weight", "key"], descending=[False, True, False]) \
        .group_by("group_key", maintain_order=True).head(MAX_PER_GROUP)
    if candidates.height == 0:
        return []
    info = rules.select("group_key", "family", "model", "feature").unique("group_key")
    candidates = candidates.join(info, on="group_key", how="left") \
        .join(texts.join(candidates.select("text_hash").unique(), on="text_hash", how="semi")
              .select("text_hash", excerpt=excerpt_expr("text", EXCERPT_CHARS)), on="text_hash", how="left")
    return [
        StaticAfterVarying(r["family"], r["model"], r["feature"], r["group_key"], r["key"], r["component"],
                           float(r["tokens"]), int(r["requests"]), round(r["first_distinct"] / r["group_requests"], 4),
                           r["excerpt"] or "", r["first_component"])
        for r in candidates.iter_rows(named=True)
    ]
