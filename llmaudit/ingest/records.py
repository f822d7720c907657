"""The values a reader yields: one canonical request, a rejection, or a skipped non-request line.

Token fields follow the canonical semantics of DESIGN.md, whatever the source reported:
``input_tokens`` includes cached reads and cache writes; ``output_tokens`` includes reasoning.
Readers normalise (Anthropic adds cache tokens, Gemini adds thoughts) before yielding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Message:
    """One input part of a request, in prompt order."""

    role: str
    """system | developer | user | assistant | tool (as the source names it, lower-cased)."""
    text: str
    """The text of the part; for a tool call, its name and JSON arguments; for non-text parts, a placeholder."""
    kind: str = "text"
    """text | tool_call | tool_result | image | audio | file | thinking."""


@dataclass(slots=True)
class RequestRecord:
    """One API request in canonical form, before pricing."""

    source_line: int
    """1-based line of the source file where the record starts (JSONL, CSV, JSON document)."""
    request_id: str | None = None
    """Provider or proxy id; when None, one is synthesised from the record's content."""
    id_is_local: bool = False
    """The id is unique only within its own file (a batch's custom id and line): a copy needs the same content too."""
    ts: datetime | None = None
    """Request start, timezone-aware UTC."""
    provider: str | None = None
    model: str | None = None
    endpoint: str | None = None
    """chat | responses | messages | embeddings | generate_content | converse | ..."""
    is_batch: bool = False
    stream: bool | None = None
    status: str = "ok"
    """ok | error."""
    error_type: str | None = None
    finish_reason: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    user_id: str | None = None
    feature: str | None = None
    team: str | None = None
    api_key: str | None = None
    """An identifier of the key (hash, alias or name), never a secret."""
    session_id: str | None = None
    template: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    top_p: float | None = None
    service_tier: str | None = None
    """The tier that served the request (default, flex, priority, batch...)."""
    inference_geo: str | None = None
    """Where the provider ran the request, when it bills by it (Anthropic's ``usage.inference_geo``)."""
    input_tokens: int | None = None
    """Total input including cache reads and writes."""
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    """All cache-write tokens (5 min and 1 h)."""
    cache_write_1h_tokens: int = 0
    """The part of ``cache_write_tokens`` written with a 1 h TTL."""
    output_tokens: int | None = None
    """Total output including reasoning/thinking."""
    reasoning_tokens: int = 0
    audio_input_tokens: int = 0
    """The audio part of ``input_tokens`` (billed at the model's audio input price)."""
    audio_output_tokens: int = 0
    """The audio part of ``output_tokens``."""
    output_params: str | None = None
    """Canonical JSON of the request parameters that change the answer besides temperature, top_p, max_tokens and
    seed (response format, stop sequences, n, tool choice, penalties, reasoning effort...): part of the exact
    cache's key."""
    web_search_requests: int = 0
    """Searches a provider-run web search tool made (Anthropic's ``usage.server_tool_use``): billed per search."""
    cost_reported_usd: float | None = None
    request_count: int = 1
    """1 for a request; the bucket's request count for aggregate (usage export) rows."""
    served_from_cache: bool = False
    """Answered by a proxy's own response cache (LiteLLM, Helicone): the provider billed nothing."""
    is_aggregate: bool = False
    """True for usage/cost export buckets, which carry no prompt text."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Flat string tags and metadata; feature/team/user are derived from it when not set."""
    messages: list[Message] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    """Tool/function schemas as canonical JSON text, one per tool."""
    output_text: str | None = None
    join_key: str | None = None
    """Key joining the two halves of one request logged apart (batch input and output: custom_id)."""
    is_partial: bool = False
    """True for a request half (e.g. batch input line) that only completes a record with the same join_key."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that could not be used, with the reason a user can act on."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line that is valid but is not an API request (a transcript's user turn, a session header)."""

    line: int
    reason: str


Parsed = RequestRecord | Rejection | Skipped
