"""Any CSV or JSON log, read through a user's mapping of canonical fields to source columns.

The mapping says where each canonical field lives (``model=llm,input_tokens=usage.in``):
a column name, or for JSON a dotted path (``usage.in``, ``choices.0.text``). A column name
that itself contains dots is tried first. Unmapped fields keep their defaults.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmaudit.errors import ConfigError
from llmaudit.ingest.coerce import (
    SHAPE_ERRORS,
    BadValue,
    get_path,
    to_bool,
    to_cost,
    to_float,
    to_int,
    to_str,
    to_ts,
)
from llmaudit.ingest.container import Sample
from llmaudit.ingest.interface import RawRecords, Reader
from llmaudit.ingest.records import Message, Parsed, Rejection, RequestRecord
from llmaudit.provider_rules import anthropic_model_key
from llmaudit.redaction import excerpt

STRING_FIELDS = (
    "request_id", "provider", "model", "endpoint", "error_type", "finish_reason", "user_id", "feature", "team",
    "api_key", "session_id", "template", "output_text",
)
FLOAT_FIELDS = ("latency_ms", "ttft_ms", "temperature", "cost_reported_usd")
COUNT_FIELDS = ("max_tokens", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")
CANONICAL_FIELDS: tuple[str, ...] = (
    "request_id", "ts", "provider", "model", "endpoint", "is_batch", "stream", "status", "error_type",
    "finish_reason", "latency_ms", "ttft_ms", "user_id", "feature", "team", "api_key", "session_id", "template",
    "temperature", "max_tokens", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens", "cost_reported_usd", "prompt", "system_prompt", "output_text",
)
"""The fields a mapping may name."""
OPTIONS = {"cache_outside_input": ("true", "false")}
"""Settings a mapping may give instead of a column: ``cache_outside_input=true`` for a log that counts input the
Anthropic way (the tokens after the last cache breakpoint, cache reads and writes beside them)."""
REQUIRED_FIELDS = ("model", "input_tokens", "output_tokens")
"""What a request needs to be priced; sniffing checks that the mapped ones are present."""
OK_STATUSES = frozenset({"ok", "success", "succeeded", "successful", "completed", "complete", "done", "true"})
ERROR_STATUSES = frozenset({"error", "errored", "failed", "failure", "fail", "false", "timeout", "cancelled", "canceled"})


def validate_mapping(mapping: dict[str, Any]) -> dict[str, str]:
    """The mapping with keys checked against `CANONICAL_FIELDS`; ConfigError names any bad key or value."""
    unknown = sorted(key for key in mapping if key not in CANONICAL_FIELDS and key not in OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown field{'s' if len(unknown) > 1 else ''} in column mapping: {', '.join(unknown)}. "
            f"Valid fields: {', '.join(CANONICAL_FIELDS)}; settings: {', '.join(OPTIONS)}"
        )
    for key, allowed in OPTIONS.items():
        if key in mapping and str(mapping[key]).strip().lower() not in allowed:
            raise ConfigError(f"column mapping: {key} must be {' or '.join(allowed)}, not {mapping[key]!r}")
    bad = sorted(key for key, column in mapping.items()
                 if key not in OPTIONS and (not isinstance(column, str) or not column.strip()))
    if bad:
        raise ConfigError(f"column mapping: {', '.join(bad)} must name a source column (a non-empty string)")
    return {key: str(column).strip().lower() if key in OPTIONS else column.strip() for key, column in mapping.items()}


def parse_mapping(spec: str) -> dict[str, str]:
    """A ``field=column,field=column`` flag value as a checked mapping."""
    mapping: dict[str, str] = {}
    for pair in spec.split(","):
        if not pair.strip():
            continue
        field, sep, column = pair.partition("=")
        if not sep:
            raise ConfigError(f"column mapping: {pair.strip()!r} is not field=column (e.g. model=llm)")
        mapping[field.strip()] = column.strip()
    if not mapping:
        raise ConfigError("column mapping is empty: give field=column pairs, e.g. model=llm,input_tokens=tokens_in")
    return validate_mapping(mapping)


def _decode_mapping_file(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    return tomllib.loads(text)


def load_mapping_file(path: Path | str) -> dict[str, str]:
    """A checked mapping from a TOML file (a ``[map]`` table or top-level keys) or a JSON object."""
    path = Path(path)
    try:
        data = _decode_mapping_file(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the mapping file: {exc.strerror or exc}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid mapping file: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("map"), dict):
        data = data["map"]
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a table of field = \"column\" pairs")
    try:
        return validate_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def lookup(raw: dict[str, Any], column: str) -> Any:
    """The value at a column name, or else at a dotted path (digits index lists)."""
    if column in raw:
        return raw[column]
    if "." not in column:
        return None
    steps = [int(part) if part.isdigit() else part for part in column.split(".")]
    return get_path(raw, *steps)


def _has_column(sample: Sample, column: str) -> bool:
    if sample.kind == "csv":
        return column in sample.columns
    return any(lookup(record, column) is not None for record in sample.records)


def to_status(value: Any) -> str | None:
    """ok | error from a logged status: words (success, failed), HTTP codes or booleans; None when unknown."""
    text = to_str(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered.isdigit():
        return "error" if int(lowered) >= 400 else "ok"
    if lowered in OK_STATUSES:
        return "ok"
    if lowered in ERROR_STATUSES:
        return "error"
    raise BadValue(f"status {excerpt(text, 40)!r} is neither a success nor a failure")


class GenericReader(Reader):
    """Reads records whose fields the user named with a column mapping."""

    name = "generic"
    description = "Any CSV/JSONL/JSON log, with --map field=column pairs"
    containers = ("jsonl", "json", "csv")
    fields = CANONICAL_FIELDS
    independent_records = True

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = validate_mapping(mapping)

    def sniff(self, sample: Sample) -> int:
        required = [self.mapping[f] for f in REQUIRED_FIELDS if f in self.mapping]
        columns = required or [column for name, column in self.mapping.items() if name not in OPTIONS]
        if sample.kind not in self.containers or not sample.records or not columns:
            return 0
        return 100 if all(_has_column(sample, column) for column in columns) else 0

    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        for line, raw in records:
            try:
                yield self._record(line, raw)
            except BadValue as exc:
                yield Rejection(line, str(exc))
            except SHAPE_ERRORS as exc:
                yield Rejection(line, f"unexpected record shape ({type(exc).__name__}: {exc})")

    def _value(self, raw: dict[str, Any], field: str) -> Any:
        column = self.mapping.get(field)
        return None if column is None else lookup(raw, column)

    def _record(self, line: int, raw: dict[str, Any]) -> RequestRecord:
        record = RequestRecord(source_line=line)
        self._fill(record, raw, STRING_FIELDS, lambda value, _: to_str(value))
        self._fill(record, raw, FLOAT_FIELDS, to_float)
        record.cost_reported_usd = to_cost(record.cost_reported_usd, self.mapping.get("cost_reported_usd", "cost"))
        self._fill(record, raw, COUNT_FIELDS, to_int)
        record.ts = to_ts(self._value(raw, "ts"), self.mapping.get("ts", "ts"))
        record.provider = record.provider.lower() if record.provider else None
        record.is_batch = bool(to_bool(self._value(raw, "is_batch")))
        record.stream = to_bool(self._value(raw, "stream"))
        record.messages = self._messages(raw)
        self._apply_outcome(record, raw)
        self._check_tokens(record)
        return record

    def _fill(self, record: RequestRecord, raw: dict[str, Any], names: tuple[str, ...],
              convert: Callable[[Any, str], Any]) -> None:
        """Set each mapped field of one type; counts left unmapped keep their defaults."""
        for name in names:
            if name in self.mapping:
                value = convert(self._value(raw, name), self.mapping[name])
                if value is not None:
                    setattr(record, name, value)

    def _messages(self, raw: dict[str, Any]) -> list[Message]:
        system = self._value(raw, "system_prompt")
        prompt = self._value(raw, "prompt")
        messages = []
        if isinstance(system, str) and system:
            messages.append(Message(role="system", text=system))
        if isinstance(prompt, str) and prompt:
            messages.append(Message(role="user", text=prompt))
        return messages

    def _apply_outcome(self, record: RequestRecord, raw: dict[str, Any]) -> None:
        """Status from the status column, or from the presence of an error type."""
        logged = to_str(self._value(raw, "status"))
        status = to_status(logged)
        if status is None:
            status = "error" if record.error_type else "ok"
        record.status = status
        if status == "error" and record.error_type is None:
            record.error_type = f"http_{logged}" if logged and logged.isdigit() else "error"

    def _check_tokens(self, record: RequestRecord) -> None:
        """Priced requests need a model and their mapped token counts; failed ones may have none.

        A count the mapping leaves out is taken as 0 (the user chose not to map it).
        """
        if record.model is None:
            raise BadValue(f"missing model (column {self.mapping.get('model', 'not mapped')!r})")
        for name in ("input_tokens", "output_tokens"):
            if getattr(record, name) is not None:
                continue
            if record.status == "ok" and name in self.mapping:
                raise BadValue(f"missing {name} (column {self.mapping[name]!r})")
            setattr(record, name, 0)
        assert record.input_tokens is not None and record.output_tokens is not None
        cached = record.cache_read_tokens + record.cache_write_tokens
        if self.mapping.get("cache_outside_input") == "true":
            record.input_tokens += cached  # the input after the last cache breakpoint: the whole input is their sum
        elif cached > record.input_tokens:
            hint = ("; if this log counts input the Anthropic way (cache reads and writes beside it), add"
                    " cache_outside_input=true to the mapping") if anthropic_model_key(record.model) else ""
            raise BadValue(f"cache tokens ({record.cache_read_tokens} read + {record.cache_write_tokens} written)"
                           f" exceed input_tokens {record.input_tokens}{hint}")
        if record.reasoning_tokens > record.output_tokens:
            raise BadValue(f"reasoning_tokens {record.reasoning_tokens} exceed output_tokens {record.output_tokens}")
