"""What the gateway and observability readers (LiteLLM, Helicone, Langfuse, OpenRouter) share.

Gateways log OpenAI-format bodies but keep their own token columns, often as JSON text
inside CSV cells. These helpers decode those cells, read a chat response body without its
usage (the gateway's own counts are normalised by each reader) and measure durations.
"""

from __future__ import annotations

import ast
import json
from datetime import datetime
from typing import Any

from llmaudit.ingest.coerce import BadValue
from llmaudit.ingest.openai_common import apply_chat_response
from llmaudit.ingest.records import RequestRecord
from llmaudit.redaction import excerpt

MAX_LITERAL_CHARS = 1_000_000
"""Python-literal fallback is only tried on cells up to this size (it is slower than JSON)."""

_PLACEHOLDER_USAGE = {"prompt_tokens": 0, "completion_tokens": 0}


def decode_json_text(value: Any, field: str, *, text_ok: bool = False) -> Any:
    """A structured field as logged: a value, JSON text of one, or (pandas CSV) a Python literal.

    With ``text_ok`` a cell that is neither is kept as plain text (prompts logged as strings);
    otherwise it is a `BadValue` naming the field.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadValue(f"{field} is nested too deeply") from None
    except ValueError:
        pass
    # pandas' to_csv writes dict cells with repr(): {'feature': 'search', 'x': None}.
    if text[:1] in "{[" and len(text) <= MAX_LITERAL_CHARS:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    if text_ok:
        return value
    raise BadValue(f"{field} is not valid JSON: {excerpt(text, 40)!r}")


def apply_chat_output(record: RequestRecord, body: dict[str, Any]) -> None:
    """Read id, time, output text, finish reason and tier from a chat.completion body, not its usage.

    The gateway's own token columns are authoritative (they are normalised by the reader,
    and old rows break OpenAI's cache invariant), so usage is replaced by a placeholder and
    the token fields are cleared for the caller to fill. The model already set is kept.
    """
    model = record.model
    apply_chat_response(record, {**body, "usage": _PLACEHOLDER_USAGE})
    record.model = model or record.model
    record.input_tokens = None
    record.output_tokens = None
    record.cache_read_tokens = 0
    record.cache_write_tokens = 0
    record.reasoning_tokens = 0


def ms_between(start: datetime | None, end: datetime | None) -> float | None:
    """Milliseconds from start to end; None when either is missing or the order is impossible."""
    if start is None or end is None or end < start:
        return None
    return round((end - start).total_seconds() * 1000, 3)


def is_chat_completion(body: Any) -> bool:
    """A chat.completion (or chunk-merged) body with choices."""
    return isinstance(body, dict) and isinstance(body.get("choices"), list)
