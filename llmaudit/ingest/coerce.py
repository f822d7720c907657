"""Value coercions every reader needs: tolerant numbers, timestamps, content parts, metadata.

Each raises ``BadValue`` with a user-readable reason; readers turn it into a `Rejection`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import msgspec

from llmaudit.ingest.records import Message
from llmaudit.redaction import excerpt

EARLIEST_TS = datetime(2015, 1, 1, tzinfo=UTC)
"""No LLM API log predates this; earlier dates are corrupt (epoch 0, wrong unit)."""
MAX_TOKENS_PER_REQUEST = 50_000_000
"""Far above any context window; a larger count is corrupt."""
MAX_COST_USD = 1e9
"""Far above any logged cost of one request or one day's usage line; a larger one is corrupt (and
a few of them would overflow the totals to infinity)."""
INT64_RANGE = range(-(2**63), 2**63)


class BadValue(ValueError):
    """A field holds a value that cannot be right; the message says which and why."""


SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, OverflowError, RecursionError)
"""What a reader's parse turns into a rejection ("unexpected record shape") instead of raising:
values of the wrong type or shape anywhere, and values nested deeper than Python can walk."""


def get_path(obj: Any, *path: str | int) -> Any:
    """Walk nested dicts/lists; None when any step is missing or of the wrong type."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
        if obj is None:
            return None
    return obj


def first(*values: Any) -> Any:
    """The first value that is not None or an empty string."""
    for value in values:
        if value is not None and value != "":
            return value
    return None


def stream_index(item: dict[str, Any]) -> int:
    """The ``index`` a streamed event or chunk choice gives its block or choice: 0 when absent or not an integer."""
    index = item.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else 0


def to_int(value: Any, field: str, *, required: bool = False) -> int | None:
    """A non-negative token count; accepts ints, integral floats and numeric strings."""
    if type(value) is int and 0 <= value <= MAX_TOKENS_PER_REQUEST:  # what logs hold: no other check needed
        return value
    if value is None or value == "":
        if required:
            raise BadValue(f"missing {field}")
        return None
    if isinstance(value, bool):
        raise BadValue(f"{field} is a boolean, not a count")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadValue(f"{field} is not a number: {excerpt(value, 40)!r}") from None
    if not isinstance(value, int | float):
        raise BadValue(f"{field} has type {type(value).__name__}, expected a number")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise BadValue(f"{field} is not a whole number: {value!r}")
        value = int(value)
    if value < 0:
        raise BadValue(f"{field} is negative: {value}")
    if value > MAX_TOKENS_PER_REQUEST:
        raise BadValue(f"{field} is implausibly large: {value}")
    return value


def to_float(value: Any, field: str) -> float | None:
    """A finite float (cost, latency, temperature) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadValue(f"{field} is a boolean, not a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadValue(f"{field} is not a number: {excerpt(value, 40)!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise BadValue(f"{field} is not a finite number: {excerpt(repr(value), 60)}")
    return float(value)


def to_cost(value: Any, field: str, *, credits: bool = False) -> float | None:
    """A logged cost in USD: a finite number no larger than `MAX_COST_USD` either way, and not negative
    unless ``credits`` (a billing export's line items may refund; a request's own cost never does)."""
    cost = to_float(value, field)
    if cost is not None and abs(cost) > MAX_COST_USD:
        raise BadValue(f"{field} is implausibly large: {cost!r} USD")
    if cost is not None and cost < 0 and not credits:
        raise BadValue(f"{field} is negative: {cost!r} USD")
    return cost


def to_parameter(value: Any) -> int | None:
    """A whole-number request parameter (seed, max_tokens), or None when it is not one.

    Parameters describe a request without changing its bill, so an odd value (a 64-bit
    random seed, an "unlimited" max_tokens sentinel, a typo) is dropped, never a rejection.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    return value if isinstance(value, int) and value in INT64_RANGE else None


def to_bool(value: Any) -> bool | None:
    """Booleans as logged: true/false, 1/0, 'true'/'false', 'yes'/'no'."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes", "y"):
        return True
    if text in ("false", "f", "0", "no", "n", "none", "null"):
        return False
    return None


def to_str(value: Any) -> str | None:
    """A non-empty string or None (numbers become their text)."""
    if type(value) is str:
        return value.strip() or None
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)
"""How far past the clock a timestamp may be (clock skew, zones mislabelled): beyond, it is rejected."""
_latest: list[Any] = [EPOCH, -1.0]
"""[the latest timestamp accepted, the monotonic second it was computed]: the clock is read once a second."""


def _latest_accepted() -> datetime:
    now = time.monotonic()
    if now - _latest[1] >= 1.0:
        _latest[0], _latest[1] = datetime.now(UTC) + FUTURE_SLACK, now
    return _latest[0]  # type: ignore[no-any-return]


def _from_epoch(number: float) -> datetime:
    magnitude = abs(number)
    if magnitude >= 1e17:
        seconds = number / 1e9
    elif magnitude >= 1e14:
        seconds = number / 1e6
    elif magnitude >= 1e11:
        seconds = number / 1e3
    else:
        seconds = number
    return EPOCH + timedelta(seconds=seconds)


def _from_text(text: str) -> datetime:
    """Epoch digits or ISO 8601 (a date first: most logs write ISO, and no number has a '-' there)."""
    if len(text) >= 10 and text[4] == "-":
        try:
            return _from_iso(text)
        except ValueError:
            return _from_epoch(float(text))
    try:
        return _from_epoch(float(text))
    except ValueError:
        return _from_iso(text)


def _from_iso(text: str) -> datetime:
    iso = text.replace(" UTC", "+00:00").replace("Z", "+00:00")
    if len(iso) > 10 and iso[10] == " ":
        iso = iso[:10] + "T" + iso[11:]
    ts = datetime.fromisoformat(iso)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def to_ts(value: Any, field: str = "timestamp", *, required: bool = False) -> datetime | None:
    """A UTC timestamp from epoch s/ms/us/ns or ISO 8601 (with or without zone; naive = UTC)."""
    if value is None or value == "":
        if required:
            raise BadValue(f"missing {field}")
        return None
    if isinstance(value, bool):
        raise BadValue(f"{field} is a boolean")
    try:
        if isinstance(value, int | float):
            ts = _from_epoch(float(value))
        elif isinstance(value, str):
            ts = _from_text(value.strip())
        else:
            raise BadValue(f"{field} has type {type(value).__name__}, expected a date")
    except (ValueError, OverflowError, OSError):
        raise BadValue(f"{field} is not a date: {excerpt(str(value), 40)!r}") from None
    if ts < EARLIEST_TS:
        raise BadValue(f"{field} {ts.date().isoformat()} is before 2015: impossible for an LLM API log")
    if ts > _latest_accepted():
        raise BadValue(f"{field} {ts.isoformat()} is in the future")
    return ts


_CANONICAL = msgspec.json.Encoder(order="sorted", enc_hook=str)


def canonical_json(value: Any) -> str:
    """Stable JSON text (sorted keys, no spaces, UTF-8 unescaped) for schemas, arguments and hashing.

    Any value a JSON or CSV decoder returns; other types as their ``str``. Nesting deeper than the
    interpreter's recursion limit raises RecursionError, as the `json` module does.
    """
    try:
        return _CANONICAL.encode(value).decode()
    except UnicodeEncodeError:  # a lone surrogate, from JSON text inside a string body (`json.loads` keeps them)
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


NON_TEXT_PART_TYPES = {
    "image_url": "image",
    "input_image": "image",
    "image": "image",
    "input_audio": "audio",
    "audio": "audio",
    "file": "file",
    "input_file": "file",
    "document": "file",
}


def output_params(body: Any, keys: tuple[str, ...] | None = None) -> str | None:
    """The request parameters among ``keys`` (all of the body's when None) that change the answer (response format,
    stop sequences, tool choice, penalties, reasoning effort...), as canonical JSON; None when the body sets none."""
    if not isinstance(body, dict):
        return None
    wanted = None if keys is None else _key_set(keys)
    # The body's few keys are looked up among the wanted ones, not the other way round (the JSON is sorted anyway).
    found = {key: value for key, value in body.items() if value is not None and (wanted is None or key in wanted)}
    return canonical_json(found) if found else None


@cache
def _key_set(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(keys)


def media_part(role: str, kind: str, payload: Any) -> Message:
    """A placeholder for an image, audio clip or file: its kind and a digest of what the log holds of it (the data,
    its URL or file id), so two requests with different images are never the same input."""
    digest = hashlib.blake2b(canonical_json(payload).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return Message(role=role, text=f"[{kind} {digest}]", kind=kind)


def content_parts(role: str, content: Any) -> list[Message]:
    """Split an OpenAI/Anthropic content value (string or list of parts) into messages.

    Text parts of one message are joined; images, audio and files become placeholder
    parts of their own kind so later stages can count them by the provider's rule.
    """
    if content is None:
        return []
    if isinstance(content, str):
        return [Message(role=role, text=content)]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return [Message(role=role, text=str(content))]
    out: list[Message] = []
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type", "text")
        if ptype in ("text", "input_text", "output_text") or (ptype is None and "text" in part):
            text = part.get("text")
            texts.append(text if isinstance(text, str) else canonical_json(text))
            continue
        if texts:  # the text parts before this one end here
            out.append(Message(role, "\n".join(texts)))
            texts = []
        out.append(_other_part(role, ptype, part))
    if texts:
        out.append(Message(role, "\n".join(texts)))
    return out


def _other_part(role: str, ptype: Any, part: dict[str, Any]) -> Message:
    """A content part that is not text: a media placeholder, a tool call or result, thinking, or an unknown part
    as its JSON."""
    if ptype in NON_TEXT_PART_TYPES:
        return media_part(role, NON_TEXT_PART_TYPES[ptype], part)
    if ptype == "tool_use":
        return Message(role, f"{part.get('name', '')}({canonical_json(part.get('input', {}))})", "tool_call")
    if ptype == "tool_result":
        inner = part.get("content")
        if isinstance(inner, str):
            return Message("tool", inner, "tool_result")
        inner_text = "\n".join(m.text for m in content_parts("tool", inner)) if inner is not None else ""
        return Message("tool", inner_text, "tool_result")
    if ptype in ("thinking", "redacted_thinking", "reasoning"):
        text = part.get("thinking") or part.get("text") or part.get("data") or ""
        return Message(role, str(text), "thinking")
    return Message(role, canonical_json(part), "text")


def flat_metadata(value: Any, prefix: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """Flatten nested metadata/tags into dotted string keys (lists of strings become `tag:<value>` keys)."""
    out = {} if out is None else out
    if isinstance(value, str) and prefix == "":
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return out
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(item, dict) and len(out) < 200:
                flat_metadata(item, name, out)
            elif isinstance(item, list):
                for element in item[:20]:
                    if isinstance(element, str):
                        out[f"tag:{element}"] = "true"
            elif item is not None and item != "":
                out[name] = str(item)
    elif isinstance(value, list):
        for element in value[:50]:
            if isinstance(element, str):
                out[f"tag:{element}"] = "true"
    return out
