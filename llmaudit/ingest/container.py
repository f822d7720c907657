"""The container layer: JSONL, JSON documents and CSV turned into numbered records.

Readers never see bytes: they get ``(line, dict)`` pairs. Undecodable lines become
rejections here, with the reason, so every reader reconciles the same way.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import zstandard

from llmaudit.errors import InputError
from llmaudit.ingest.records import Rejection
from llmaudit.ingest.source import LineTally, SourceFile, iter_lines, raise_if_cut

BOM = b"\xef\xbb\xbf"
SAMPLE_RECORDS = 25
JSON_LIST_KEYS = ("data", "observations", "items", "records", "results", "logs", "requests", "rows")
MAX_DEPTH_MESSAGE = "JSON nested too deeply"

csv.field_size_limit(sys.maxsize)

_decoder = msgspec.json.Decoder()


@dataclass
class Sample:
    """What sniffing sees of a file: its container kind and its first records."""

    kind: str
    """jsonl | json | csv"""
    records: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    """CSV header names (stripped, as written)."""
    problem: str | None = None
    """Why the first unreadable record could not be read (a cut, invalid JSON...), to explain a failed detection."""


def _decode(raw: bytes) -> Any:
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(MAX_DEPTH_MESSAGE) from None


def _decode_error(raw: bytes) -> str:
    """Why ``raw`` is not valid JSON."""
    try:
        _decode(raw)
    except ValueError as exc:
        return str(exc)
    return "invalid JSON"


JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines")
"""Names that say one JSON value per line (also under .gz or .zst)."""


def detect_kind(head: bytes, name: str = "") -> str:
    """Guess the container from the first bytes (and the file's name): jsonl, json or csv.

    A file starting with ``{`` is JSONL when its first line is an object on its own (unless that line is the
    whole file and wraps a list of records: an API page saved compactly). When that line
    cannot be read (cut, invalid UTF-8, longer than the head), the file is still JSONL if its name
    says so, or if most of the head's other whole lines are objects on their own: one bad line
    must cost one record, not the file. Otherwise it is one JSON document (pretty-printed).
    """
    text = head.removeprefix(BOM).lstrip()
    if not text:
        return "empty"
    if text[:1] == b"[":
        return "json"
    if text[:1] != b"{":
        return "csv"
    first_line, _, rest = text.partition(b"\n")
    if first_line.strip() == b"{":
        return "json"  # pretty-printed: one document, or several one after another (`jq .` output)
    if _is_object(first_line):
        # One line alone that wraps a list of records (an API page saved compactly: {"data": [...]}) is a document.
        return "json" if not rest.strip() and _json_items(_decode(first_line))[1] is not None else "jsonl"
    stem = name.lower().removesuffix(".gz").removesuffix(".zst").removesuffix(".zstd")
    if stem.endswith(JSONL_SUFFIXES):
        return "jsonl"
    lines = [line for line in rest.split(b"\n")[:-1] if line.strip()]  # the last may be cut by the head's end
    objects = sum(1 for line in lines if _is_object(line))
    return "jsonl" if objects and objects * 2 >= len(lines) else "json"


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(_decode(line), dict)
    except ValueError:
        return False


def _json_items(document: Any) -> tuple[list[Any], str | None]:
    """The records of a JSON document, and the key of the wrapping object's list that holds them (None: the
    document is the list, or the one record)."""
    if isinstance(document, list):
        return document, None
    if isinstance(document, dict):
        for key in JSON_LIST_KEYS:
            value = document.get(key)
            if isinstance(value, list) and (not value or isinstance(value[0], dict)) and len(document) <= 4:
                return value, key
    return [document], None


def _item_lines(raw: bytes, key: str | None, wrapped: bool) -> list[int]:
    """The line each record of a JSON document starts on: the items of its top-level list, of the list under
    ``key`` of a wrapping object, or the document itself.

    The document is decoded again into raw items (msgspec.Raw, views into ``raw`` itself: where each
    starts is its address less the document's), then the newlines before each are counted.
    """
    if not wrapped:
        return [raw[:len(raw) - len(raw.lstrip())].count(b"\n") + 1]
    try:
        if key is not None:
            items = msgspec.json.decode(msgspec.json.decode(raw, type=dict[str, msgspec.Raw])[key], type=list[msgspec.Raw])
        else:
            items = msgspec.json.decode(raw, type=list[msgspec.Raw])
    except (msgspec.DecodeError, KeyError, RecursionError):
        return []
    base = np.frombuffer(raw, np.uint8).ctypes.data
    lines, line, before = [], 1, 0
    for item in items:
        at = np.frombuffer(item, np.uint8).ctypes.data - base
        line += raw.count(b"\n", before, at)
        lines.append(line)
        before = at
    return lines


def iter_records(source: SourceFile, kind: str, span: tuple[int, int] | None = None,
                 tally: LineTally | None = None) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    """Yield every record of the file as (line, dict) or (line, Rejection).

    A compressed file that is cut short or corrupt ends with one rejection saying so.
    ``span``: only that byte range of an uncompressed JSONL file, lines numbered from its start.
    ``tally``: given the number of lines read, at the end (JSONL).
    """
    if kind == "empty":
        return
    if span is not None and kind != "jsonl":
        raise InputError(f"{source.name}: only JSONL files are read in pieces, not {kind}")
    readers = {"jsonl": lambda: _iter_jsonl(source, span, tally), "json": lambda: _iter_json_document(source),
               "csv": lambda: _iter_csv(source)}
    if kind not in readers:
        raise InputError(f"{source.name}: unknown container {kind!r}")
    last = 0
    try:
        for line, record in readers[kind]():
            last = line
            yield line, record
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        yield last + 1, Rejection(last + 1, f"the file is truncated or corrupt from here on: {exc}")


def _iter_jsonl(source: SourceFile, span: tuple[int, int] | None,
                tally: LineTally | None) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    at_start = span is None or span[0] == 0
    for line_no, raw in iter_lines(source, span, tally):
        if line_no == 1 and at_start:
            raw = raw.removeprefix(BOM)
        if not raw or raw.isspace():
            continue
        try:
            value = _decode(raw)  # the line's newline and any white space around it are JSON white space
        except ValueError:
            sequence = _json_sequence(raw)  # objects glued together on one line ({...}{...}): each is a record
            if sequence is not None:
                for _, item in sequence:
                    yield line_no, item if isinstance(item, dict) else Rejection(line_no, item.reason)
                continue
            # Explained without its line end: a line cut inside a string reads "truncated", not "invalid
            # character" at the newline.
            yield line_no, Rejection(line_no, _decode_error(raw.rstrip(b"\r\n")))
            continue
        if not isinstance(value, dict):
            yield line_no, Rejection(line_no, f"expected a JSON object, got {type(value).__name__}")
            continue
        yield line_no, value


def _iter_json_document(source: SourceFile) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    with source.open() as stream:
        raw = stream.read().removeprefix(BOM)
        raise_if_cut(stream)
    try:
        document = _decode(raw)
    except ValueError as exc:
        sequence = _json_sequence(raw)
        if sequence is None:
            yield 1, Rejection(1, f"{exc} (the whole JSON document is unreadable)")
        else:
            yield from sequence
        return
    yield from _numbered_items(document, raw, 1)


_BLANK = re.compile(r"[ \t\r\n]*")
_NEXT_VALUE = re.compile(r"\n(?=[{\[])")
"""Where the value after an unreadable one may start: a line opening with a brace or bracket (`jq .` output)."""


def _json_sequence(raw: bytes) -> list[tuple[int, dict[str, Any] | Rejection]] | None:
    """Values written one after another (`jq .` output, concatenated documents), each numbered by the line it
    starts on; a list or a wrapping page ({"data": [...]}) gives its items. A value that does not decode is one
    rejection, up to the next line opening with a brace or bracket. None unless two values decode."""
    text = raw.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    out: list[tuple[int, dict[str, Any] | Rejection]] = []
    position, line, counted, values = 0, 1, 0, 0
    while (start := _BLANK.match(text, position).end()) < len(text):  # type: ignore[union-attr]
        line += text.count("\n", counted, start)
        counted = start
        try:
            value, position = decoder.raw_decode(text, start)
        except (ValueError, RecursionError) as exc:
            if not values:
                return None
            reason = MAX_DEPTH_MESSAGE if isinstance(exc, RecursionError) else f"invalid JSON: {exc}"
            resume = _NEXT_VALUE.search(text, start + 1)
            if resume is None:
                out.append((line, Rejection(line, f"{reason} (from line {line} to the end of the file)")))
                break
            last = line + text.count("\n", start, resume.start())
            out.append((line, Rejection(line, f"{reason} (lines {line} to {last})")))
            position = resume.start() + 1
            continue
        values += 1
        out.extend(_numbered_items(value, text[start:position].encode("utf-8", "surrogatepass"), line))
    return out if values >= 2 else None


def _numbered_items(value: Any, raw: bytes, first_line: int) -> list[tuple[int, dict[str, Any] | Rejection]]:
    """The records of a JSON value (its items when it is a list or a wrapping page), ``raw`` its text starting on
    line ``first_line``: each numbered by the line it starts on, or when they cannot all be found, by its place
    in the list."""
    items, key = _json_items(value)
    offsets = _item_lines(raw, key, wrapped=isinstance(value, list) or key is not None)
    numbers = [first_line + offset - 1 for offset in offsets] if len(offsets) == len(items) \
        else list(range(first_line, first_line + len(items)))
    return [(number, item if isinstance(item, dict)
             else Rejection(number, f"item {index}: expected a JSON object, got {type(item).__name__}"))
            for index, (number, item) in enumerate(zip(numbers, items, strict=True), start=1)]


def _iter_csv(source: SourceFile) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    with source.open() as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        # strict: a stray quote or a quoted cell still open at the end of the file (a cut
        # download) is an error, not a row silently glued together or cut short.
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise_if_cut(stream)
            return
        except csv.Error as exc:
            yield 1, Rejection(1, f"unreadable CSV header: {exc}")
            return
        columns = [name.strip() for name in header]
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                raise_if_cut(stream)
                return
            except csv.Error as exc:
                detail = "the file ends inside a quoted cell (the last row is cut short)" \
                    if str(exc) == "unexpected end of data" else str(exc)
                yield start, Rejection(start, f"malformed CSV: {detail}")
                continue
            if not row or all(not cell.strip() for cell in row):
                continue
            if "\x00" in "".join(row):
                yield start, Rejection(start, "NUL byte in CSV row")
                continue
            if len(row) != len(columns):
                yield start, Rejection(start, f"expected {len(columns)} CSV fields, found {len(row)}")
                continue
            yield start, dict(zip(columns, row, strict=True))


def sample(source: SourceFile) -> Sample:
    """Read the first records of a file for sniffing."""
    head = source.head()
    kind = detect_kind(head, source.name)
    result = Sample(kind=kind)
    if kind == "csv":
        first = head.removeprefix(BOM).decode("utf-8", errors="replace").splitlines()[:1]
        result.columns = [c.strip() for c in next(csv.reader(first), [])]
    if kind == "empty":
        return result
    for _, record in iter_records(source, kind):
        if isinstance(record, dict):
            result.records.append(record)
        elif result.problem is None:
            result.problem = record.reason
        if len(result.records) >= SAMPLE_RECORDS:
            break
    return result
