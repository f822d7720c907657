"""Provider billing rules that genai-prices does not carry, one constant per rule with its source.

These change often: each is a one-line update, and RULES_VERSION is written to audit.json.
Sources are in ../shared/PROVIDERS.md (✅ = the provider's own documentation).
"""

from __future__ import annotations

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
"""OpenAI Flex is "priced at Batch API rates" (guides/flex-processing) ✅; Gemini Flex is 50% off ✅."""


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
