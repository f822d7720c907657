"""Provider billing rules that genai-prices does not carry, one constant per rule with its source.

These change often: each is a one-line update, and RULES_VERSION is written to audit.json.
Sources are in ../shared/PROVIDERS.md (✅ = the provider's own documentation).
"""

from __future__ import annotations

import re

RULES_VERSION = "2026-08"
"""Date of the newest provider documentation these constants were checked against."""

BATCH_DISCOUNT: dict[str, float] = {
    # OpenAI Batch: 50% off (help.openai.com/en/articles/9197833) ✅
    "openai": 0.5,
    "azure": 0.5,  # Azure Global Batch: "50% less cost than global standard" ✅
    # Anthropic Message Batches: 50% off all usage, stacking with cache multipliers [AB] ✅
    "anthropic": 0.5,
    # Gemini Batch: 50% off (ai.google.dev/gemini-api/docs/optimization) ✅
    "google": 0.5,
    "google-vertex": 0.5,
    "google-gla": 0.5,
    # Bedrock batch: "50% cost savings vs on-demand" ✅
    "aws": 0.5,
    "bedrock": 0.5,
}
"""Multiplier applied to every token price of a batch request, by provider."""

FLEX_TIERS = frozenset({"flex"})
"""OpenAI Flex is "priced at Batch API rates, with additional discounts from prompt caching" (guides/flex-processing)
✅, so unlike pre-GPT-5 batch its cached input keeps the cache discount (o3/o4-mini "get cached rates on Flex" [PR]
✅); Gemini Flex is 50% off ✅."""


OPENAI_PRIORITY_MULTIPLIER: tuple[tuple[re.Pattern[str], float], ...] = (
    # Priority processing premium over standard, by model [PR] ✅ (2026-08): gpt-5/5.1/5.4/5.6 2x, gpt-5.5 2.5x,
    # gpt-4.1 1.75x, gpt-4o 1.7x. Priority prices "exclude long context" (openai.com/api-priority-processing) ✅:
    # a request above the long-context threshold keeps the standard long-context price.
    (re.compile(r"gpt-5\.5(-\d{4}-\d{2}-\d{2})?"), 2.5),
    (re.compile(r"gpt-5(\.[146])?(-\d{4}-\d{2}-\d{2})?"), 2.0),
    (re.compile(r"gpt-4\.1(-\d{4}-\d{2}-\d{2})?"), 1.75),
    (re.compile(r"gpt-4o(-\d{4}-\d{2}-\d{2})?"), 1.7),
)
"""(whole model name, priority price / standard price) for the models the pricing page lists; only used when
genai-prices has no priority price of its own."""


def openai_priority_multiplier(model: str) -> float | None:
    """Priority price / standard price of an OpenAI model, when the pricing page states it."""
    name = model.lower().rsplit("/", 1)[-1]
    return next((factor for pattern, factor in OPENAI_PRIORITY_MULTIPLIER if pattern.fullmatch(name)), None)


ANTHROPIC_GEO_PREMIUM: dict[str, float] = {"us": 1.1}
"""``inference_geo`` -> multiplier on every token price: US-only inference costs 1.1x on Claude 4.6+ [AP] ✅, stacking
with the batch discount and the cache multipliers [APC] ✅ (2026-08)."""
ANTHROPIC_GEO_PREMIUM_FROM_VERSION = 4.6
"""The first Claude version billed by ``inference_geo`` [AP] ✅."""


def anthropic_geo_premium(model: str) -> float:
    """US-only inference's multiplier for a model (1.0 for a model not billed by where it ran)."""
    key = anthropic_model_key(model)
    if key is None or float(key.split("-", 1)[1]) < ANTHROPIC_GEO_PREMIUM_FROM_VERSION:
        return 1.0
    return ANTHROPIC_GEO_PREMIUM["us"]


ANTHROPIC_LONG_CONTEXT: dict[str, tuple[int, float, float]] = {
    # Sonnet 4 and 4.5 with the 1M-context beta and more than 200k input tokens (cache reads and writes included):
    # the whole request at 2x input and 1.5x output; cache and batch multipliers stack [AP@979aa9c8] ✅.
    # Claude 4.6+ bills the full 1M context at standard rates [AP HEAD] ✅.
    "sonnet-4": (200_000, 2.0, 1.5),
    "sonnet-4.5": (200_000, 2.0, 1.5),
}
"""'<family>-<version>' -> (input-token threshold, input multiplier, output multiplier); used when genai-prices
has no tier for the model."""


def openai_batch_cache_read_is_discounted(model: str) -> bool:
    """GPT-5.x batch cached input = 50% of standard cached; earlier models get no cache discount in batch [PR][CB]."""
    name = model.lower().split("/")[-1]
    return name.startswith("gpt-5")


ANTHROPIC_CACHE_WRITE_5M = 1.25
"""5-minute cache write = 1.25 x input price [APC] ✅."""
ANTHROPIC_CACHE_WRITE_1H = 2.0
"""1-hour cache write = 2 x input price [APC] ✅."""
ANTHROPIC_CACHE_READ = 0.1
"""Cache read = 0.1 x input price [APC] ✅."""


# --- Prompt caching (simulated by llmaudit.analyses.prompt_caching) ------------------------------
# [PCa] developers.openai.com/api/docs/guides/prompt-caching.md (older version, retention list ends at
# gpt-5.2); [PCb] the same page, GPT-5.6 version (llms-txt-archive/openai-platform @25f7cbb, 2026);
# [CB] openai-cookbook examples/Prompt_Caching_201.ipynb @0dee719; [PR] OpenAI pricing page (mid-2026).
# [APC] docs.anthropic build-with-claude/prompt-caching.md @7967a16 (2026-08-21).

OPENAI_CACHE_MIN_TOKENS = 1024
"""OpenAI automatic caching starts at 1,024 prompt tokens; below it cached_tokens is 0 [PCa][CB] ✅ (2026-08)."""
OPENAI_CACHE_INCREMENT = 128
"""Cache hits grow in 128-token steps: cached_tokens is rounded down to a multiple of 128 [PCa][PCb] ✅ (2026-08)."""
OPENAI_IN_MEMORY_RETENTION_MINUTES = 5.0
"""`in_memory` retention: "5 to 10 minutes of inactivity, up to a maximum of one hour" [PCa] ✅ (2026-08).
We take the low end of the range. [PCb] says orgs without Zero Data Retention default to `24h`; [PCa] says
`in_memory`: the sources disagree and we follow [PCa], the conservative reading."""
OPENAI_CACHE_RULES_BY_MODEL: tuple[tuple[str, int, int, float, float | None], ...] = (
    # (model prefix, minimum tokens, increment, retention minutes, write multiplier or None)
    # gpt-5.5: implicit breakpoints every 2,048 tokens and `24h` retention only [PCb] ✅ (2026-08).
    ("gpt-5.5", 2048, 2048, 24 * 60.0, None),
    # GPT-5.6+: strict 1,024 visible tokens; writes billed 1.25x input; ttl "30m" after last use [PCb] ✅ (2026-08).
    ("gpt-5.6", 1024, 128, 30.0, 1.25),
    ("gpt-5.7", 1024, 128, 30.0, 1.25),
    ("gpt-5.8", 1024, 128, 30.0, 1.25),
    ("gpt-5.9", 1024, 128, 30.0, 1.25),
)
"""Models whose caching rules differ from the defaults above, most specific prefix first."""
OPENAI_CACHE_READ_MULTIPLIER: tuple[tuple[str, float], ...] = (
    # Share of the input price a cached token costs; only a fallback when genai-prices has no cached price.
    ("gpt-4o", 0.5),  # 50% off [CB] ✅
    ("gpt-4.1", 0.25),  # 75% off [CB] ✅
    ("gpt-5", 0.1),  # 90% off [CB] ✅
    ("o3-mini", 0.5),  # 50% off [PR] ✅
    ("o1-mini", 0.5),  # 50% off [PR] ✅
    ("o4-mini", 0.25),  # 75% off [PR] ✅
    ("o3", 0.25),  # 75% off [PR] ✅
)
"""(model prefix, cached price / input price), longest prefixes first; checked 2026-08. gpt-realtime is left to
genai-prices: its documented 98.75% [CB] is the audio discount (text is $4 -> $0.40), and one share cannot say both."""

ANTHROPIC_CACHE_MIN_TOKENS: dict[str, int] = {
    # Minimum cacheable prompt length by model [APC] ✅ (2026-08-21). The March 2026 version had Sonnet 4.6 at
    # 2,048 and anthropic-sdk-python#1194 observed Sonnet caching only from 2,048; we follow the newest doc (1,024).
    "sonnet-4": 1024, "sonnet-4.5": 1024, "sonnet-4.6": 1024, "sonnet-5": 1024,
    "opus-4": 1024, "opus-4.1": 1024, "opus-4.8": 1024,
    "opus-4.7": 2048, "haiku-3.5": 2048,
    "opus-4.5": 4096, "opus-4.6": 4096, "haiku-4.5": 4096,
    "opus-5": 512, "fable-5": 512, "mythos-5": 512,
    # Retired models, absent from the Aug 2026 table: the doc text quoted in anthropic-sdk-python#1194 (2026) ✅
    "sonnet-3.7": 1024, "haiku-3": 2048,
    # ⚠️ third-party only (docs.truefoundry.com chat-completions-prompt-caching, 2025).
    "sonnet-3.5": 1024, "opus-3": 1024,
}
"""Minimum cacheable prefix in tokens, keyed by '<family>-<version>'."""
ANTHROPIC_CACHE_MIN_TOKENS_UNKNOWN = 4096
"""For a Claude model not in the table: the largest documented minimum, so savings are not overstated."""
ANTHROPIC_CACHE_TTL_MINUTES: dict[str, float] = {"5m": 5.0, "1h": 60.0}
"""Breakpoint TTLs; 5m is the default and is refreshed at no cost on each hit [APC] ✅ (2026-08-21)."""
ANTHROPIC_MAX_BREAKPOINTS = 4
"""At most 4 cache_control breakpoints per request [APC] ✅ (2026-08-21)."""
ANTHROPIC_LOOKBACK_BLOCKS = 20
"""A breakpoint finds earlier cache entries at most 20 blocks before it [APC] ✅ (2026-08-21)."""

GEMINI_IMPLICIT_MIN_TOKENS: dict[str, int] = {
    # ai.google.dev/gemini-api/docs/caching, version updated 2026-07-07 ✅. Earlier versions disagree
    # (blog 2025-05-08: Flash 1,024 / Pro 2,048; page 2026-05-07: Flash 1,024 / Pro 4,096); we follow the newest.
    "2.5-flash": 2048, "2.5-pro": 2048, "3": 4096,
}
"""Implicit caching minimum by Gemini version ('2.5-flash', '2.5-pro'; '3' = every 3.x model)."""
GEMINI_IMPLICIT_FIRST_VERSION = 2.5
"""Implicit caching exists from the 2.5 models on (developers.googleblog.com, 2025-05-08) ✅."""
GEMINI_IMPLICIT_READ_MULTIPLIER = 0.1
"""Implicit hits are 90% off (ai.google.dev optimization page; Vertex context-cache-overview) ✅ (2026-08).
Only a fallback: genai-prices' dated cached price (75% off in mid-2025) is used when it has one."""
GEMINI_IMPLICIT_RETENTION_MINUTES = 5.0
"""❌ Google documents no lifetime for implicit entries (Vertex: "expire within 24 hours", most sooner, evicted as
memory is reclaimed). Assumed: 5 minutes after last use, like OpenAI's in-memory cache. Hits are not guaranteed ✅."""


def _model_name(model: str) -> str:
    return model.lower().rsplit("/", 1)[-1]


def openai_cache_rules(model: str) -> tuple[int, int, float, float | None]:
    """(minimum tokens, increment, retention minutes, write multiplier or None) of an OpenAI model."""
    name = _model_name(model)
    for prefix, minimum, increment, retention, write in OPENAI_CACHE_RULES_BY_MODEL:
        if name.startswith(prefix):
            return minimum, increment, retention, write
    return OPENAI_CACHE_MIN_TOKENS, OPENAI_CACHE_INCREMENT, OPENAI_IN_MEMORY_RETENTION_MINUTES, None


def openai_cache_read_multiplier(model: str) -> float | None:
    """Cached price / input price for an OpenAI model, when the table knows it."""
    name = _model_name(model)
    return next((share for prefix, share in OPENAI_CACHE_READ_MULTIPLIER if name.startswith(prefix)), None)


_CLAUDE_FAMILY_FIRST = re.compile(r"claude-(opus|sonnet|haiku|fable|mythos)-(\d+)(?:[-.](\d)(?!\d))?")
_CLAUDE_VERSION_FIRST = re.compile(r"claude-(\d+)(?:[-.](\d))?-(opus|sonnet|haiku)")


def anthropic_model_key(model: str) -> str | None:
    """'<family>-<version>' of a Claude model id in any of its spellings (API, Bedrock, Vertex, OpenRouter)."""
    name = model.lower()
    if match := _CLAUDE_FAMILY_FIRST.search(name):
        family, major, minor = match.groups()
    elif match := _CLAUDE_VERSION_FIRST.search(name):
        major, minor, family = match.groups()
    else:
        return None
    return f"{family}-{major}" + (f".{minor}" if minor and minor != "0" else "")


def anthropic_cache_min_tokens(model: str) -> int:
    """Minimum cacheable prefix of a Claude model (the conservative default when unknown)."""
    key = anthropic_model_key(model)
    return ANTHROPIC_CACHE_MIN_TOKENS.get(key or "", ANTHROPIC_CACHE_MIN_TOKENS_UNKNOWN)


_GEMINI_VERSION = re.compile(r"gemini-(\d+(?:\.\d+)?)-?(pro|flash)?")


def gemini_implicit_min_tokens(model: str) -> int | None:
    """Implicit caching minimum of a Gemini model; None for models without implicit caching (before 2.5)."""
    match = _GEMINI_VERSION.search(model.lower())
    if match is None:
        return None
    version = float(match.group(1))
    if version < GEMINI_IMPLICIT_FIRST_VERSION:
        return None
    if version < 3:
        return GEMINI_IMPLICIT_MIN_TOKENS["2.5-pro" if match.group(2) == "pro" else "2.5-flash"]
    return GEMINI_IMPLICIT_MIN_TOKENS["3"]
