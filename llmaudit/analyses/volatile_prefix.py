"""Volatile prefixes: system prompts that are one template with a small varying span.

A timestamp, a date, a user name or an id near the top of an otherwise identical system prompt
makes every request's prefix different, so no provider cache ever hits. Per (provider, model,
feature) the distinct system texts are clustered around the most frequent one: texts of about the
same length sharing a long common prefix and suffix around a short differing middle. The template
is prefix + «span» + suffix; the fix moves the span after the static part, which then becomes a
shared, cacheable prefix.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl

from llmaudit.analyses.cache_replay import TEMPLATE_KEY_BIT, template_key
from llmaudit.redaction import redact_parts
from llmaudit.spill import strings_at
from llmaudit.sums import exact_sum
from llmaudit.tokens.counting import count_tokens
from llmaudit.tokens.encodings import encoding_for_model

MAX_SPAN_SHARE = 0.10
"""The varying span is at most this share of the text (and lengths differ by at most as much)."""
MAX_SEEDS_PER_GROUP = 20
MAX_BARREN_SEEDS = 5
"""A group stops being searched after this many seeds in a row that have no near-identical text."""
SAMPLE_PER_SEED = 200
"""Distinct texts compared character by character with each seed; membership then is vectorised."""
EXAMPLES = 5
END_OF_PROMPT = 2**40
"""Order of a part moved to the very end of its prompt."""
EXCERPT_CHARS = 80
SEPARATORS = frozenset(" \t\r\n\"'`()[]{}<>,;|")
"""Where a marked span may start or end: whole words, so a timestamp is marked whole, not from its first digit that differs."""
SPAN_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ISO timestamp", re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")),
    ("UUID", re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)),
    ("date", re.compile(r"\d{4}-\d{2}-\d{2}|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                        r"[a-z]*\.? \d{1,2}\b|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)|"
                        r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b")),
    ("time", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")),
    ("hex id", re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I)),
    ("number", re.compile(r"^\W*\d[\d,._]*\W*$")),
    ("name", re.compile(r"^\W*[A-Z][a-z]+(?: [A-Z][a-z]+){0,3}\W*$")),
    ("identifier", re.compile(r"^[\w.@:-]*\d[\w.@:-]*$")),
)


@dataclass(frozen=True)
class SpanTemplate:
    """System texts of one feature and model that differ only in one short span."""

    family: str
    model: str
    feature: str | None
    group_key: str
    member_hashes: tuple[str, ...]
    requests: int
    prefix: str
    """Static text before the span."""
    suffix: str
    """Static text after the span."""
    span_examples: tuple[str, ...]
    span_kind: str
    static_tokens: float
    """Tokens of prefix + suffix: what becomes a shared prefix once the span is moved after it."""
    prefix_tokens: float
    """Tokens before the span: a prefix the automatic caches (OpenAI, Gemini) already share today."""

    @property
    def cluster_id(self) -> str:
        """Stable id of the template (its most frequent member)."""
        return self.member_hashes[0]

    def _member_rows(self) -> pl.Expr:
        return (pl.col("group_key") == self.group_key) & (pl.col("component") == "system") \
            & pl.col("text_hash").is_in(list(self.member_hashes))

    def _split(self, parts: pl.DataFrame, key: int, tokens: float, tail_component: str, tail_last: bool) -> pl.DataFrame:
        members = parts.filter(self._member_rows())
        if members.height == 0:
            return parts
        # Undo an earlier split of the same rows, then split the whole text at `tokens`.
        whole = members.group_by(["request_id", "text_hash"]).agg(
            pl.col("order").min(), exact_sum(pl.col("tokens")), pl.col("group_key").first(),
            key=pl.col("key").filter(pl.col("key") < TEMPLATE_KEY_BIT).first(),
        )
        head = whole.select("request_id", "order", key=pl.lit(key, pl.UInt64), tokens=pl.min_horizontal(pl.col("tokens"), pl.lit(tokens)),
                            component=pl.lit("system"), text_hash="text_hash", pin=pl.lit(False), group_key="group_key")
        tail = whole.select("request_id", order=pl.lit(END_OF_PROMPT, pl.Int64) if tail_last else pl.col("order") + 1, key="key",
                            tokens=(pl.col("tokens") - tokens).clip(0.0), component=pl.lit(tail_component),
                            text_hash="text_hash", pin=pl.lit(False), group_key="group_key")
        return pl.concat([parts.filter(~self._member_rows()), head.select(parts.columns), tail.select(parts.columns)])

    def share_prefix(self, parts: pl.DataFrame) -> pl.DataFrame:
        """Today's prompts as an automatic cache sees them: the text before the span is a shared prefix."""
        return self._split(parts, template_key(f"tpl:pre:{self.cluster_id}"), self.prefix_tokens, "system", tail_last=False)

    def rewrite(self, parts: pl.DataFrame) -> pl.DataFrame:
        """The prompts after the fix: the static text in place, the span moved to the end of the prompt (after
        history too, so conversations keep sharing their earlier turns; after any breakpoint)."""
        return self._split(parts, template_key(f"tpl:static:{self.cluster_id}"), self.static_tokens, "system_span", tail_last=True)

    def template(self) -> str:
        """An excerpt of the template with the varying span marked «…», redacted as the whole prompt is."""
        prefix, span, suffix = redact_parts(self.prefix, self.span_examples[0] if self.span_examples else "", self.suffix)
        before = ("…" if len(prefix) > EXCERPT_CHARS else "") + prefix[-EXCERPT_CHARS:]
        after = suffix[:EXCERPT_CHARS] + ("…" if len(suffix) > EXCERPT_CHARS else "")
        return f"{before}«{span}»{after}"

    def shown_examples(self) -> list[str]:
        """The varying spans, each redacted as its whole prompt is (a token whose "Bearer" is static text)."""
        return [redact_parts(self.prefix, span, self.suffix)[1] for span in self.span_examples]


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by bisection on slice equality (C-speed comparisons)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid:] == b[len(b) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def span_kind(examples: list[str]) -> str:
    """What the varying span is (ISO timestamp, date, UUID, name...), by majority over examples."""
    kinds = [next((kind for kind, pattern in SPAN_KINDS if pattern.search(e)), "text") for e in examples if e.strip()]
    return Counter(kinds).most_common(1)[0][0] if kinds else "text"


def _bounds(seed: str, members: list[str]) -> tuple[int, int] | None:
    """(prefix length, suffix length) shared by the seed and the members close to it, on word boundaries."""
    length = len(seed)
    max_span = MAX_SPAN_SHARE * length
    shared: list[tuple[int, int]] = []
    for text in members:
        if abs(len(text) - length) > max_span:
            continue
        p = _common_prefix(seed, text)
        s = _common_suffix(seed, text, min(len(seed), len(text)) - p)
        if max(length, len(text)) - p - s <= max_span:
            shared.append((p, s))
    if not shared:
        return None
    p = min(x for x, _ in shared)
    end = length - min(y for _, y in shared)
    while p > 0 and seed[p - 1] not in SEPARATORS:
        p -= 1
    while end < length and seed[end] not in SEPARATORS:
        end += 1
    return p, length - end


def _template_tokens(model: str, seed_tokens: float, seed: str, prefix: str, suffix: str) -> tuple[float, float]:
    """Calibrated tokens of prefix + suffix and of the prefix alone, scaled like the seed's own count."""
    encoding = encoding_for_model(model).encoding
    raw_seed, raw_static, raw_prefix = count_tokens([seed, prefix + suffix, prefix], encoding)
    factor = seed_tokens / raw_seed if raw_seed else 1.0
    return min(raw_static * factor, seed_tokens), raw_prefix * factor


def _cluster_group(group: pl.DataFrame, texts: pl.Series, family: str, model: str, feature: str | None,
                   group_key: str) -> list[SpanTemplate]:
    """Templates among one group's distinct system texts (text_hash, text_row, requests, tokens), most frequent
    first; ``texts``: the mapped text column the rows point into, read a run at a time."""
    templates: list[SpanTemplate] = []
    remaining = group
    barren = 0
    for _ in range(MAX_SEEDS_PER_GROUP):
        if remaining.height < 2 or barren >= MAX_BARREN_SEEDS:
            break
        seed_row = remaining.row(0, named=True)
        seed, *others = (text or "" for text in strings_at(texts, remaining.get_column("text_row").head(SAMPLE_PER_SEED + 1)))
        bounds = _bounds(seed, others) if seed else None
        if bounds is None:
            remaining = remaining.slice(1)
            barren += 1
            continue
        barren = 0
        prefix, suffix = seed[:bounds[0]], seed[len(seed) - bounds[1]:]
        max_span = max(MAX_SPAN_SHARE * len(seed), len(seed) - len(prefix) - len(suffix))
        is_member = pl.Series(_members(texts, remaining.get_column("text_row"), prefix, suffix, max_span))
        members = remaining.filter(is_member)
        remaining = remaining.filter(~is_member)
        if members.height < 2:
            continue
        spans = [t[len(prefix):len(t) - len(suffix)] for t in strings_at(texts, members.get_column("text_row").head(EXAMPLES))
                 if t is not None]
        static_tokens, prefix_tokens = _template_tokens(model, float(seed_row["tokens"] or 0.0), seed, prefix, suffix)
        templates.append(SpanTemplate(
            family=family, model=model, feature=feature, group_key=group_key,
            member_hashes=tuple(members.get_column("text_hash").to_list()),
            requests=int(members.get_column("requests").sum()), prefix=prefix, suffix=suffix,
            span_examples=tuple(spans), span_kind=span_kind(spans),
            static_tokens=static_tokens, prefix_tokens=prefix_tokens,
        ))
    return templates


def _members(texts: pl.Series, rows: pl.Series, prefix: str, suffix: str, max_span: float) -> np.ndarray:
    """Which rows hold prefix + a middle of at most ``max_span`` characters + suffix.

    Tested on the strings `strings_at` reads, so that only one run of the group's texts is mapped at a
    time (the group can hold most of the system prompts: 170k of them, 1.1 GB, at a million requests)."""
    static = len(prefix) + len(suffix)
    return np.fromiter(
        (text is not None and static <= len(text) <= static + max_span and text.startswith(prefix)
         and text.endswith(suffix) for text in strings_at(texts, rows)),
        dtype=bool, count=rows.len())


def find_span_templates(parts: pl.DataFrame, texts: pl.DataFrame, rules: pl.DataFrame) -> list[SpanTemplate]:
    """Every volatile-span template among the system texts of each (provider, model, feature)."""
    system = parts.filter(pl.col("component") == "system")
    distinct = system.group_by(["group_key", "text_hash"]).agg(
        requests=pl.col("request_id").n_unique(), tokens=pl.col("tokens").max(),
    )
    varied = distinct.filter(pl.len().over("group_key") >= 2)
    if varied.height == 0:
        return []
    groups = rules.select("group_key", "family", "model", "feature").unique("group_key")
    # The texts stay where they are (mapped): the candidates point at them, and each step reads them a run at a time.
    candidates = varied.join(texts.select("text_hash").with_row_index("text_row"), on="text_hash", how="inner") \
        .sort(["group_key", "requests", "text_hash"], descending=[False, True, False])
    column = texts.get_column("text")
    templates: list[SpanTemplate] = []
    for (group_key,), group in candidates.group_by(["group_key"], maintain_order=True):
        info = groups.filter(pl.col("group_key") == group_key).row(0, named=True)
        templates += _cluster_group(group, column, info["family"], info["model"], info["feature"], str(group_key))
    return templates
