"""The nasty-input corpus: real records of every log format, mutated into the inputs that break parsers.

Nothing here is committed as data. Each `Variant` names one real, valid request in
``tests/assets/<format>/`` (the record or records that make one API call) and where its
fields live; `build_case` writes that request, copied and mutated, into files under a
temporary directory and says what a correct run must report for them.

Every case file holds ``COPIES`` distinct copies of the request (ids made unique). The
first copy is always left intact; the nasty mutation goes into the last one, so a run
must keep the good request and account for the bad one.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from llmaudit.ingest.container import detect_kind, iter_records
from llmaudit.ingest.source import SourceFile

ASSETS = Path(__file__).resolve().parents[1] / "assets"
COPIES = 2
HUGE_LINE_BYTES = 50 * 1024 * 1024
DEEP_UNDECODABLE = 100_000
"""Nesting no JSON decoder accepts: the container must reject the record, not overflow the stack."""
DEEP_DECODABLE = 700
"""Nesting that decodes, deep enough to overflow any reader that walks values recursively."""
INSTANT = "2025-09-01T10:00:00+00:00"
"""The UTC instant every timestamp spelling in the `timestamps` case stands for."""
EPOCH_S = 1756720800
MARKER = "@@NASTY@@"
"""Placed in a text field, then replaced in the serialised bytes (for bytes JSON cannot express)."""

Key = str | int
FieldPath = tuple[Key, ...]


@dataclass(frozen=True)
class Variant:
    """One format as a file kind, and the real request the corpus is built from."""

    name: str
    reader: str
    """The format detection must choose (``generic`` for the --map reader)."""
    asset: str
    """Path under tests/assets."""
    target: int
    """The record (line, CSV line or JSON item number) that is one request; copied and mutated."""
    container: str
    """How the corpus writes the records: jsonl, json (an array document) or csv."""
    ids: tuple[FieldPath, ...]
    """Fields that identify the request: made unique per copy (strings suffixed, numbers bumped)."""
    tokens: FieldPath | None
    """The input-token count the price depends on."""
    usage: tuple[FieldPath, ...]
    """Removed (emptied in CSV) for the missing-usage case."""
    ts: FieldPath | None
    """The request time the reader uses; None when the format logs none."""
    text: FieldPath
    """A free-text field the reader reads (prompt, output, user...)."""
    context: tuple[int, ...] = ()
    """Records written once before the copies (a session header, the turn that names the model)."""
    session: FieldPath | None = None
    """In the first context record: the session id, made unique per file where files stand for separate sessions."""
    cost: FieldPath | None = None
    """A logged cost, when the format has one."""
    args: tuple[str, ...] = ()
    """Extra CLI flags (the generic reader's --map)."""
    first_only: FieldPath | None = None
    """A list in the record cut to its first item (a usage bucket's results), so one copy is one request."""
    huge: bool = False
    """Also run the 50 MB single-line case (costly: a few variants stand for every container)."""


GENERIC_CSV_MAP = (
    "request_id=call_id,ts=created,model=llm,provider=vendor,input_tokens=tokens_in,cache_read_tokens=tokens_cached,"
    "output_tokens=tokens_out,cost_reported_usd=cost,feature=app,user_id=customer,status=outcome,temperature=temp,"
    "prompt=prompt_text,output_text=answer"
)
GENERIC_JSONL_MAP = (
    "request_id=trace,ts=at,model=llm.name,provider=llm.vendor,input_tokens=usage.in,cache_read_tokens=usage.cached,"
    "output_tokens=usage.out,reasoning_tokens=usage.reasoning,feature=tags.app,team=tags.team,status=ok,"
    "system_prompt=io.system,prompt=io.question,output_text=io.answer"
)

VARIANTS: tuple[Variant, ...] = (
    Variant(
        "anthropic_batch", "anthropic_batch", "anthropic_batch/results.jsonl", 1, "jsonl",
        ids=(("custom_id",), ("result", "message", "id")),
        tokens=("result", "message", "usage", "input_tokens"), usage=(("result", "message", "usage"),),
        ts=("timestamp",), text=("result", "message", "content", 0, "text"),
    ),
    Variant(
        "anthropic_messages", "anthropic_messages", "anthropic_messages/messages.jsonl", 1, "jsonl",
        ids=(("response", "id"),), tokens=("response", "usage", "input_tokens"), usage=(("response", "usage"),),
        ts=("timestamp",), text=("request", "messages", 0, "content", 0, "text"),
    ),
    Variant(
        "anthropic_messages.json", "anthropic_messages", "anthropic_messages/bare_messages.json", 1, "json",
        ids=(("id",),), tokens=("usage", "input_tokens"), usage=(("usage",),), ts=None,
        text=("content", 0, "text"),
    ),
    Variant(
        "bedrock", "bedrock", "bedrock/invocations.jsonl", 1, "jsonl",
        ids=(("requestId",),), tokens=("input", "inputTokenCount"), usage=(("input", "inputTokenCount"),),
        ts=("timestamp",), text=("input", "inputBodyJson", "messages", 0, "content", 0, "text"),
    ),
    Variant(
        "bedrock.csv", "bedrock", "bedrock/cloudwatch_insights.csv", 2, "csv",
        ids=(("@message", "requestId"),), tokens=("@message", "input", "inputTokenCount"),
        usage=(("@message", "input", "inputTokenCount"),), ts=("@message", "timestamp"),
        text=("@message", "input", "inputBodyJson", "messages", 0, "content", 0, "text"),
    ),
    Variant(
        "claude_code", "claude_code", "claude_code/traps.jsonl", 6, "jsonl",
        ids=(("message", "id"), ("requestId",), ("uuid",)), tokens=("message", "usage", "input_tokens"),
        usage=(("message", "usage"),), ts=("timestamp",), text=("message", "content", 0, "input", "file_path"),
    ),
    Variant(
        "codex_cli", "codex_cli", "codex_cli/traps.jsonl", 9, "jsonl", context=(1, 3, 4), session=("payload", "id"),
        ids=(("payload", "info", "total_token_usage", "input_tokens"),),
        tokens=("payload", "info", "last_token_usage", "input_tokens"),
        usage=(("payload", "info", "last_token_usage"), ("payload", "info", "total_token_usage")),
        ts=("timestamp",), text=("payload", "rate_limits", "note"),
    ),
    Variant(
        "gemini", "gemini", "gemini/gemini_logs.jsonl", 1, "jsonl",
        ids=(("response", "responseId"),), tokens=("response", "usageMetadata", "promptTokenCount"),
        usage=(("response", "usageMetadata"),), ts=("timestamp",),
        text=("request", "contents", 0, "parts", 0, "text"),
    ),
    Variant(
        "helicone", "helicone", "helicone/requests.jsonl", 1, "jsonl",
        ids=(("request_id",), ("response_body", "id")), tokens=("response_body", "usage", "prompt_tokens"),
        usage=(("response_body", "usage"), ("prompt_tokens",), ("completion_tokens",)), ts=("request_created_at",),
        text=("request_body", "messages", 1, "content"), cost=("cost",),
    ),
    Variant(
        "helicone.csv", "helicone", "helicone/requests.csv", 2, "csv",
        ids=(("request_id",),), tokens=("response_body", "usage", "prompt_tokens"),
        usage=(("response_body", "usage"), ("prompt_tokens",), ("completion_tokens",)), ts=("request_created_at",),
        text=("request_body", "messages", 1, "content"), cost=("costUSD",),
    ),
    Variant(
        "langfuse.json", "langfuse", "langfuse/observations.json", 1, "json",
        ids=(("id",),), tokens=("usageDetails", "input"),
        usage=(("usageDetails",), ("usage",), ("promptTokens",), ("completionTokens",), ("totalTokens",)),
        ts=("startTime",), text=("input", 1, "content"), cost=("calculatedTotalCost",), huge=True,
    ),
    Variant(
        "langfuse.csv", "langfuse", "langfuse/observations.csv", 2, "csv",
        ids=(("id",),), tokens=("usageDetails", "input"), usage=(("usageDetails",),),
        ts=("startTime",), text=("input", 1, "content"), cost=("calculatedTotalCost",),
    ),
    Variant(
        "litellm_payload", "litellm_payload", "litellm/payloads.jsonl", 1, "jsonl",
        ids=(("id",),), tokens=("prompt_tokens",),
        usage=(("prompt_tokens",), ("metadata", "usage_object"), ("response", "usage")),
        ts=("startTime",), text=("messages", 1, "content", 0, "text"), cost=("response_cost",),
    ),
    Variant(
        "litellm_spendlogs", "litellm_spendlogs", "litellm/spend_logs.jsonl", 1, "jsonl",
        ids=(("request_id",),), tokens=("prompt_tokens",), usage=(("prompt_tokens",), ("metadata", "usage_object")),
        ts=("startTime",), text=("messages", 1, "content"), cost=("spend",),
    ),
    Variant(
        "litellm_spendlogs.csv", "litellm_spendlogs", "litellm/spend_logs.csv", 2, "csv",
        ids=(("request_id",),), tokens=("prompt_tokens",), usage=(("prompt_tokens",), ("metadata", "usage_object")),
        ts=("startTime",), text=("messages", 1, "content"), cost=("spend",), huge=True,
    ),
    Variant(
        "openai_batch", "openai_batch", "openai_batch/batch-output.jsonl", 1, "jsonl",
        ids=(("custom_id",), ("id",), ("response", "body", "id")),
        tokens=("response", "body", "usage", "prompt_tokens"), usage=(("response", "body", "usage"),),
        ts=("response", "body", "created"), text=("response", "body", "choices", 0, "message", "content"),
    ),
    Variant(
        "openai_chat", "openai_chat", "openai_chat/chat_logs.jsonl", 1, "jsonl",
        ids=(("response", "id"),), tokens=("response", "usage", "prompt_tokens"), usage=(("response", "usage"),),
        ts=("timestamp",), text=("request", "messages", 1, "content"), huge=True,
    ),
    Variant(
        "openai_chat.json", "openai_chat", "openai_chat/bare_completions.json", 1, "json",
        ids=(("id",),), tokens=("usage", "prompt_tokens"), usage=(("usage",),), ts=("created",),
        text=("choices", 0, "message", "content"),
    ),
    Variant(
        "openai_responses", "openai_responses", "openai_responses/responses.jsonl", 1, "jsonl",
        ids=(("id",),), tokens=("usage", "input_tokens"), usage=(("usage",),), ts=("created_at",),
        text=("instructions",),
    ),
    Variant(
        "openai_usage.csv", "openai_usage", "openai_usage/usage_dashboard.csv", 2, "csv",
        ids=(("project_id",),), tokens=("input_tokens",), usage=(("input_tokens",), ("input_uncached_tokens",)),
        ts=("start_time",), text=("project_name",),
    ),
    Variant(
        "openai_usage.json", "openai_usage", "openai_usage/usage_api.json", 1, "json",
        ids=(("results", 0, "project_id"),), tokens=("results", 0, "input_tokens"),
        usage=(("results", 0, "input_tokens"),), ts=("start_time",), text=("results", 0, "api_key_id"),
        first_only=("results",),
    ),
    Variant(
        "openai_costs.csv", "openai_costs", "openai_usage/costs_dashboard.csv", 2, "csv",
        ids=(("project_id",),), tokens=None, usage=(("amount_value",),), ts=("start_time",),
        text=("project_name",), cost=("amount_value",),
    ),
    Variant(
        "openrouter.csv", "openrouter", "openrouter/activity.csv", 2, "csv",
        ids=(("generation_id",),), tokens=("tokens_prompt",), usage=(("tokens_prompt",), ("tokens_completion",)),
        ts=("created_at",), text=("user",), cost=("cost_total",),
    ),
    Variant(
        "generic.csv", "generic", "generic/calls.csv", 2, "csv",
        ids=(("call_id",),), tokens=("tokens_in",), usage=(("tokens_in",), ("tokens_out",)), ts=("created",),
        text=("prompt_text",), cost=("cost",), args=("--map", GENERIC_CSV_MAP),
    ),
    Variant(
        "generic.jsonl", "generic", "generic/calls.jsonl", 1, "jsonl",
        ids=(("trace",),), tokens=("usage", "in"), usage=(("usage",),), ts=("at",), text=("io", "question"),
        args=("--map", GENERIC_JSONL_MAP),
    ),
)
VARIANTS_BY_NAME = {variant.name: variant for variant in VARIANTS}


# --- field paths through nested values and JSON text ------------------------------------------------

_DELETE = object()


def _edit(node: Any, path: FieldPath, change: Callable[[Any], Any]) -> Any:
    """Apply ``change`` to the value at ``path`` and return the new node; JSON text on the way is decoded and re-encoded."""
    if isinstance(node, str):
        inner = _edit(json.loads(node), path, change)
        return json.dumps(inner, ensure_ascii=False)
    key, rest = path[0], path[1:]
    if rest:
        node[key] = _edit(node[key], rest, change)
        return node
    old = node[key] if (isinstance(node, dict) and key in node) or (isinstance(node, list) and key < len(node)) else None
    new = change(old)
    if new is _DELETE:
        if isinstance(node, dict):
            node.pop(key, None)
        else:
            node[key] = None
    else:
        node[key] = new
    return node


def set_field(record: dict[str, Any], path: FieldPath, value: Any, *, csv_row: bool = False) -> None:
    """Set one field (in a CSV row, a top-level value is written as text)."""
    if csv_row and len(path) == 1:
        value = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    _edit(record, path, lambda _old: value)


def get_field(record: dict[str, Any], path: FieldPath) -> Any:
    """The value at a path (JSON text on the way decoded)."""
    found: list[Any] = []
    _edit(copy.deepcopy(record), path, lambda old: found.append(old) or old)
    return found[0]


def delete_field(record: dict[str, Any], path: FieldPath, *, csv_row: bool = False) -> None:
    """Remove a field (a CSV cell cannot be removed from one row: it is emptied)."""
    _edit(record, path, lambda _old: "" if csv_row and len(path) == 1 else _DELETE)


def _unique(value: Any, copy_number: int) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value + copy_number * 1000
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return str(int(value) + copy_number * 1000)
    return f"{value}-copy{copy_number}"


# --- the seed request and how it is written -----------------------------------------------------------


@dataclass
class Seed:
    """The real records of one variant, ready to be copied."""

    variant: Variant
    context: list[dict[str, Any]]
    target: dict[str, Any]
    columns: list[str] = field(default_factory=list)

    def as_session(self, number: int) -> Seed:
        """The same seed as a separate session (its session id made unique), for formats that have one."""
        if self.variant.session is None:
            return self
        context = copy.deepcopy(self.context)
        _edit(context[0], self.variant.session, lambda old: _unique(old, number))
        return Seed(self.variant, context, self.target, self.columns)

    def copy_of(self, number: int) -> dict[str, Any]:
        """Copy ``number`` (1-based) of the request, with unique ids; copy 1 is the record as logged."""
        record = copy.deepcopy(self.target)
        if number > 1:
            for path in self.variant.ids:
                _edit(record, path, lambda old: _unique(old, number))
        return record


def load_seed(variant: Variant) -> Seed:
    """Read the variant's real records from its asset."""
    path = ASSETS / variant.asset
    source = SourceFile(path.name, path)
    wanted = {*variant.context, variant.target}
    numbered = iter_records(source, detect_kind(source.head()))
    if variant.container == "json":  # a JSON asset's records are named by their place in it, not by line
        numbered = ((place, record) for place, (_, record) in enumerate(numbered, start=1))
    records = {number: record for number, record in numbered if number in wanted}
    missing = wanted - records.keys()
    if missing or not all(isinstance(records[line], dict) for line in wanted):
        raise AssertionError(f"{variant.asset}: records {sorted(wanted)} are not all readable")
    target = records[variant.target]
    if variant.first_only is not None:
        _edit(target, variant.first_only, lambda items: items[:1])
    columns: list[str] = []
    if variant.container == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            columns = next(csv.reader(handle))
    return Seed(variant, [records[line] for line in variant.context], target, columns)


def _csv_text(columns: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """Each row as CSV text ending in a newline (the first item is the header)."""
    out = []
    for values in [columns, *([_cell(row.get(name)) for name in columns] for row in rows)]:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        out.append(buffer.getvalue())
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def serialise(seed: Seed, records: list[dict[str, Any]]) -> tuple[bytes, list[int]]:
    """The file bytes for context + records, and the byte offset where each of ``records`` starts."""
    variant = seed.variant
    everything = [*seed.context, *records]
    if variant.container == "jsonl":
        chunks = [json.dumps(r, ensure_ascii=False) + "\n" for r in everything]
        head = ""
    elif variant.container == "csv":
        header, *chunks = _csv_text(seed.columns, everything)
        head = header
    else:  # a JSON array document, one item per line so items can be cut and located
        chunks = [("  " + json.dumps(r, ensure_ascii=False) + (",\n" if i < len(everything) - 1 else "\n"))
                  for i, r in enumerate(everything)]
        head = "[\n"
    data = head.encode()
    starts = []
    for index, chunk in enumerate(chunks):
        if index >= len(seed.context):
            starts.append(len(data))
        data += chunk.encode()
    if variant.container == "json":
        data += b"]\n"
    return data, starts


def record_line(seed: Seed, copy_number: int) -> int:
    """The line the reader reports for copy ``copy_number`` (where it starts: `serialise` writes one per line)."""
    first = 1 if seed.variant.container in ("csv", "json") else 0  # the CSV header, the JSON array's "["
    return first + len(seed.context) + copy_number


# --- cases ----------------------------------------------------------------------------------------------


@dataclass
class Expect:
    """What a correct run reports for a case."""

    exit_code: int = 0
    requests: int | None = None
    rejected: int | None = None
    duplicates: int | None = None
    reject_lines: tuple[int, ...] | None = None
    """Lines the rejections must name (in any order)."""
    reason_contains: tuple[str, ...] = ()
    """Each rejection reason must contain one of these (case-insensitive)."""
    window: str | None = None
    """The window start and end every request must share."""
    message: str | None = None
    """For exit 2: a text the one-line error must contain."""
    either_accept_or_reject: bool = False
    """The mutated record may be kept (the value was harmless) or rejected with a reason."""


@dataclass
class Case:
    """Files written for one variant x case, and the expected outcome."""

    files: list[Path]
    expect: Expect
    args: tuple[str, ...] = ()


Builder = Callable[[Seed, Path], Case]
CASES: dict[str, Builder] = {}
CASE_NOTES: dict[str, str] = {}


def case(name: str, note: str) -> Callable[[Builder], Builder]:
    """Register a case builder under ``name``; ``note`` documents the decided outcome."""

    def register(build: Builder) -> Builder:
        CASES[name] = build
        CASE_NOTES[name] = note
        return build

    return register


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def file_name(seed: Seed, stem: str) -> str:
    """A file name with the extension of the variant's container."""
    suffix = {"jsonl": ".jsonl", "json": ".json", "csv": ".csv"}[seed.variant.container]
    return stem + suffix


def copies(seed: Seed, mutate: Callable[[dict[str, Any]], None] | None = None, count: int = COPIES) -> list[dict[str, Any]]:
    """``count`` distinct copies of the request, the last one passed to ``mutate``."""
    records = [seed.copy_of(number) for number in range(1, count + 1)]
    if mutate is not None:
        mutate(records[-1])
    return records


def _one_bad(seed: Seed, folder: Path, stem: str, mutate: Callable[[dict[str, Any]], None],
             reasons: tuple[str, ...], *, replace: tuple[bytes, bytes] | None = None) -> Case:
    """COPIES copies, the last mutated: one request kept, the mutated one rejected naming its line."""
    data, _ = serialise(seed, copies(seed, mutate))
    if replace is not None:
        data = data.replace(*replace)
    path = _write(folder, file_name(seed, stem), data)
    return Case([path], Expect(requests=COPIES - 1, rejected=1, reject_lines=(record_line(seed, COPIES),),
                               reason_contains=reasons))


def _csv(seed: Seed) -> bool:
    return seed.variant.container == "csv"


def _document_unreadable(path: Path, reason: str) -> Case:
    """A JSON document with one bad byte is unreadable as a whole, so nothing tells its format: exit 2, one line."""
    return Case([path], Expect(exit_code=2, message=reason))


@case("clean", "the seed copies as logged: every one is a request (checks the corpus itself)")
def clean(seed: Seed, folder: Path) -> Case:
    data, _ = serialise(seed, copies(seed))
    return Case([_write(folder, file_name(seed, "clean"), data)], Expect(requests=COPIES, rejected=0))


@case("truncated_last_line", "the last record cut in half, no final newline: rejected on its line "
      "(a JSON document is unreadable as a whole: exit 2 naming the file and why)")
def truncated_last_line(seed: Seed, folder: Path) -> Case:
    # Three copies: with one good record of two, no format can claim a majority of the sample.
    count = COPIES + 1
    data, starts = serialise(seed, copies(seed, count=count))
    end = len(data) - (3 if seed.variant.container == "json" else 1)  # "]\n" / final newline
    cut = data[: starts[-1] + (end - starts[-1]) // 2]
    path = _write(folder, file_name(seed, "truncated"), cut)
    if seed.variant.container == "json":
        return _document_unreadable(path, "the whole JSON document is unreadable")
    return Case([path], Expect(requests=count - 1, rejected=1, reject_lines=(record_line(seed, count),),
                               reason_contains=("invalid json", "truncated", "csv fields", "malformed", "cut short",
                                                "not valid json")))


@case("bom", "a UTF-8 byte order mark before the first byte: read as if absent")
def bom(seed: Seed, folder: Path) -> Case:
    data, _ = serialise(seed, copies(seed))
    return Case([_write(folder, file_name(seed, "bom"), b"\xef\xbb\xbf" + data)], Expect(requests=COPIES, rejected=0))


@case("crlf", "Windows line endings everywhere: read as if LF")
def crlf(seed: Seed, folder: Path) -> Case:
    data, _ = serialise(seed, copies(seed))
    return Case([_write(folder, file_name(seed, "crlf"), data.replace(b"\n", b"\r\n"))],
                Expect(requests=COPIES, rejected=0))


@case("nul_byte", "a raw NUL byte inside a text value: that record rejected on its line "
      "(a JSON document: exit 2, unreadable as a whole)")
def nul_byte(seed: Seed, folder: Path) -> Case:
    built = _one_bad(seed, folder, "nul", lambda r: set_field(r, seed.variant.text, MARKER, csv_row=_csv(seed)),
                     ("invalid json", "nul byte", "control character"), replace=(MARKER.encode(), b"ab\x00cd"))
    if seed.variant.container == "json":
        return _document_unreadable(built.files[0], "the whole JSON document is unreadable")
    return built


@case("nul_escaped", "an escaped NUL (\\u0000) inside a text value is valid JSON: kept, stored and rendered "
      "(a plain CSV cell cannot escape it: there it is a raw NUL byte, and the row is rejected)")
def nul_escaped(seed: Seed, folder: Path) -> Case:
    def mutate(record: dict[str, Any]) -> None:
        set_field(record, seed.variant.text, "before\u0000after", csv_row=_csv(seed))

    if _csv(seed) and len(seed.variant.text) == 1:
        return _one_bad(seed, folder, "nul_escaped", mutate, ("nul byte",))
    data, _ = serialise(seed, copies(seed, mutate))
    return Case([_write(folder, file_name(seed, "nul_escaped"), data)], Expect(requests=COPIES, rejected=0))


@case("invalid_utf8", "bytes that are not UTF-8 inside a text value: a JSON record is rejected on its line "
      "(a JSON document: exit 2); CSV cells are decoded with U+FFFD replacements and kept")
def invalid_utf8(seed: Seed, folder: Path) -> Case:
    built = _one_bad(seed, folder, "latin1", lambda r: set_field(r, seed.variant.text, MARKER, csv_row=_csv(seed)),
                     ("utf-8",), replace=(MARKER.encode(), b"caf\xe9 \xff\xfe"))
    if seed.variant.container == "json":
        return _document_unreadable(built.files[0], "utf-8")
    if _csv(seed):
        built.expect = Expect(requests=COPIES, rejected=0)
    return built


@case("huge_line", "one 50 MB record (a 50 MB prompt): read like any other")
def huge_line(seed: Seed, folder: Path) -> Case:
    filler = "lorem ipsum dolor sit amet " * (HUGE_LINE_BYTES // 27)
    data, _ = serialise(seed, copies(seed, lambda r: set_field(r, seed.variant.text, filler, csv_row=_csv(seed))))
    assert len(data) > HUGE_LINE_BYTES
    return Case([_write(folder, file_name(seed, "huge"), data)], Expect(requests=COPIES, rejected=0))


def _inject(data: bytes, raw: bytes) -> bytes:
    """Put raw JSON text where the marker string is: as a JSON value, inside JSON text in a string or CSV cell."""
    marker = MARKER.encode()
    for quoted in (b'\\"' + marker + b'\\"', b'""' + marker + b'""', b'"' + marker + b'"', marker):
        data = data.replace(quoted, raw)
    return data


def _nested(seed: Seed, folder: Path, stem: str, depth: int) -> Case:
    data, _ = serialise(seed, copies(seed, lambda r: set_field(r, seed.variant.text, MARKER, csv_row=_csv(seed))))
    data = _inject(data, ("[" * depth + "]" * depth).encode())
    return Case([_write(folder, file_name(seed, stem), data)],
                Expect(requests=COPIES - 1, rejected=1, reject_lines=(record_line(seed, COPIES),),
                       reason_contains=("nested too deeply",)))


@case("deep_json_undecodable", f"a value nested {DEEP_UNDECODABLE:,} deep: the record rejected as nested too "
      "deeply (a JSON document: exit 2); a CSV cell that is plain text keeps the brackets as text")
def deep_json_undecodable(seed: Seed, folder: Path) -> Case:
    built = _nested(seed, folder, "deep", DEEP_UNDECODABLE)
    if seed.variant.container == "json":
        return _document_unreadable(built.files[0], "nested too deeply")
    if _csv(seed):
        built.expect = Expect(either_accept_or_reject=True, reason_contains=("nested too deeply",))
    return built


@case("deep_json_decodable", f"a value nested {DEEP_DECODABLE} deep, which decodes: kept, or rejected as nested "
      "too deeply; never a crash")
def deep_json_decodable(seed: Seed, folder: Path) -> Case:
    built = _nested(seed, folder, "deep_ok", DEEP_DECODABLE)
    built.expect = Expect(either_accept_or_reject=True)
    return built


def _wrong_types(record: dict[str, Any], seed: Seed) -> None:
    path = seed.variant.tokens or seed.variant.cost
    assert path is not None
    set_field(record, path, "many", csv_row=_csv(seed))


@case("wrong_types", "the token count (costs export: the amount) is text: rejected as not a number")
def wrong_types(seed: Seed, folder: Path) -> Case:
    return _one_bad(seed, folder, "wrong_types", lambda r: _wrong_types(r, seed), ("not a number",))


@case("wrong_shape", "the usage object (or count) is a list: rejected with the field named, or kept when the "
      "format logs the same counts twice (Helicone columns beside the body, Langfuse usage beside usageDetails)")
def wrong_shape(seed: Seed, folder: Path) -> Case:
    def mutate(record: dict[str, Any]) -> None:
        set_field(record, seed.variant.usage[0], ["not", "an", "object"], csv_row=_csv(seed))

    built = _one_bad(seed, folder, "wrong_shape", mutate, ("not an object", "missing", "not a number",
                                                           "not a finite number", "cannot price", "expected a number"))
    built.expect.either_accept_or_reject = True
    built.expect.requests = built.expect.rejected = built.expect.reject_lines = None
    return built


@case("missing_usage", "no usage at all: rejected as missing, cannot price")
def missing_usage(seed: Seed, folder: Path) -> Case:
    def mutate(record: dict[str, Any]) -> None:
        for path in seed.variant.usage:
            delete_field(record, path, csv_row=_csv(seed))

    return _one_bad(seed, folder, "missing_usage", mutate, ("missing", "cannot price"))


@case("negative_tokens", "a negative token count: rejected as negative")
def negative_tokens(seed: Seed, folder: Path) -> Case:
    path = seed.variant.tokens
    assert path is not None
    return _one_bad(seed, folder, "negative", lambda r: set_field(r, path, -5, csv_row=_csv(seed)), ("negative",))


@case("absurd_tokens", "10^13 tokens in one request (or 10^30 in one usage bucket): rejected as implausibly large")
def absurd_tokens(seed: Seed, folder: Path) -> Case:
    path = seed.variant.tokens
    assert path is not None
    value = 10**30 if seed.variant.reader == "openai_usage" else 10**13
    return _one_bad(seed, folder, "absurd", lambda r: set_field(r, path, value, csv_row=_csv(seed)),
                    ("implausibly large",))


@case("absurd_cost", "a logged cost of 1e308 USD on every copy (their sum overflows): rejected as implausible")
def absurd_cost(seed: Seed, folder: Path) -> Case:
    path = seed.variant.cost
    assert path is not None
    records = copies(seed)
    for record in records:
        set_field(record, path, 1e308, csv_row=_csv(seed))
    data, _ = serialise(seed, records)
    lines = tuple(record_line(seed, number) for number in range(1, COPIES + 1))
    return Case([_write(folder, file_name(seed, "absurd_cost"), data)],
                Expect(requests=0, rejected=COPIES, reject_lines=lines, reason_contains=("implausib",)))


@case("negative_cost", "a logged cost of -1 USD on the last copy: a request's own cost is never a credit, so it is "
      "rejected; a billing export's line item may be one (a refund), so it is kept")
def negative_cost(seed: Seed, folder: Path) -> Case:
    path = seed.variant.cost
    assert path is not None
    built = _one_bad(seed, folder, "negative_cost", lambda r: set_field(r, path, -1.0, csv_row=_csv(seed)), ("negative",))
    if seed.variant.reader == "openai_costs":
        built.expect = Expect(requests=COPIES, rejected=0)
    return built


TIMESTAMP_SPELLINGS: dict[str, Any] = {
    "epoch_s": EPOCH_S,
    "epoch_s_float": EPOCH_S + 0.0,
    "epoch_ms": EPOCH_S * 1000,
    "epoch_us": EPOCH_S * 1_000_000,
    "epoch_ns": EPOCH_S * 1_000_000_000,
    "epoch_s_text": str(EPOCH_S),
    "iso_z": "2025-09-01T10:00:00Z",
    "iso_offset": "2025-09-01T12:00:00+02:00",
    "iso_naive": "2025-09-01T10:00:00",
    "iso_space_utc": "2025-09-01 10:00:00 UTC",
    "iso_millis_z": "2025-09-01T10:00:00.000Z",
}


@case("timestamps", "one file per spelling (epoch s/ms/us/ns, ISO with Z, offset or no zone): every request "
      "at the same UTC instant, so the window starts and ends there")
def timestamps(seed: Seed, folder: Path) -> Case:
    path = seed.variant.ts
    assert path is not None
    files = []
    for index, (name, value) in enumerate(TIMESTAMP_SPELLINGS.items()):
        record = seed.copy_of(index + 2)
        set_field(record, path, value, csv_row=_csv(seed))
        data, _ = serialise(seed.as_session(index + 2), [record])
        files.append(_write(folder, file_name(seed, f"ts_{name}"), data))
    return Case(files, Expect(requests=len(files), rejected=0, window=INSTANT))


@case("timestamp_invalid", "a timestamp that is text, before 2015 (epoch 0) or years ahead: rejected naming the field")
def timestamp_invalid(seed: Seed, folder: Path) -> Case:
    path = seed.variant.ts
    assert path is not None
    records = copies(seed, count=4)
    for record, value in zip(records[1:], ("yesterday", 0, "2999-01-01T00:00:00Z"), strict=True):
        set_field(record, path, value, csv_row=_csv(seed))
    data, _ = serialise(seed, records)
    lines = tuple(record_line(seed, number) for number in (2, 3, 4))
    return Case([_write(folder, file_name(seed, "bad_ts"), data)],
                Expect(requests=1, rejected=3, reject_lines=lines, reason_contains=("not a date", "before 2015",
                                                                                    "in the future")))


@case("overlapping_exports", "the same request in two exports (a later export overlapping an earlier one): "
      "counted once, the other a duplicate")
def overlapping_exports(seed: Seed, folder: Path) -> Case:
    first, second, third = (seed.copy_of(n) for n in (1, 2, 3))
    if seed.variant.reader == "codex_cli":
        # A rollout is one session appended to: a later copy of it repeats the earlier lines in place.
        early, late, duplicates = [first, second], [first, second, third], 2
    else:
        early, late, duplicates = [first, second], [second, third], 1
    a = _write(folder / "export-1", file_name(seed, "export"), serialise(seed, early)[0])
    b = _write(folder / "export-2", file_name(seed, "export"), serialise(seed, late)[0])
    return Case([a, b], Expect(requests=3, rejected=0, duplicates=duplicates))


@case("bad_first_line", "JSONL whose first record is cut short and whose name says nothing (.log): still read "
      "as JSONL, that record rejected on its line, the records after it kept")
def bad_first_line(seed: Seed, folder: Path) -> Case:
    count = COPIES + 1
    data, starts = serialise(seed, copies(seed, count=count))
    first, second = starts[0], starts[1]
    cut = data[:first] + data[first:first + (second - first) // 2] + b"\n" + data[second:]
    path = _write(folder, file_name(seed, "bad_first").removesuffix(".jsonl") + ".log", cut)
    return Case([path], Expect(requests=count - 1, rejected=1, reject_lines=(record_line(seed, 1),),
                               reason_contains=("invalid json", "truncated")))


CUT_BYTES = 12
"""Bytes cut off the end of a compressed file: its trailer and some data."""


def _compressed_cut(seed: Seed, folder: Path, suffix: str, compress: Callable[[list[bytes]], bytes]) -> Case:
    """A compressed file with its last bytes cut off: what decompresses is read, then a rejection says it broke.

    A JSON document cut short has no readable record at all: exit 2 naming the file and the cut.
    """
    data, starts = serialise(seed, copies(seed, count=8))
    pieces = [data[a:b] for a, b in zip([0, *starts], [*starts, len(data)], strict=True)]
    packed = compress(pieces)
    # Repeated records compress to almost nothing, so the last bytes hold the last records.
    path = _write(folder, file_name(seed, "cut") + suffix, packed[:-CUT_BYTES])
    if seed.variant.container == "json":
        return Case([path], Expect(exit_code=2, message="the file is truncated or corrupt"))
    # The record cut in the middle is rejected as such (or goes with the cut), then the cut itself.
    return Case([path], Expect(reason_contains=("truncated or corrupt", "invalid json", "csv fields", "malformed"),
                               message="the file was cut short", either_accept_or_reject=True))


def _zstd_blocks(pieces: list[bytes]) -> bytes:
    """zstd as a log shipper writes it: one block flushed per record (a whole-file frame is one block)."""
    writer = zstandard.ZstdCompressor().compressobj()
    out = b"".join(writer.compress(piece) + writer.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK) for piece in pieces)
    return out + writer.flush()


@case("gzip_truncated", "a .gz download cut short: the records before the cut read, then one rejection "
      "'the file is truncated or corrupt from here on' on the line where it broke")
def gzip_truncated(seed: Seed, folder: Path) -> Case:
    return _compressed_cut(seed, folder, ".gz", lambda pieces: gzip.compress(b"".join(pieces), mtime=0))


@case("zstd_truncated", "a .zst file cut short: as for gzip (whole zstd blocks before the cut are read; a file "
      "whose first block is cut is a one-line exit 2, tested with the file-level failures)")
def zstd_truncated(seed: Seed, folder: Path) -> Case:
    return _compressed_cut(seed, folder, ".zst", _zstd_blocks)


def applicable(variant: Variant, name: str) -> bool:
    """Whether a case makes sense for a variant (no timestamp cases for formats that log no time...)."""
    if name in ("timestamps", "timestamp_invalid"):
        return variant.ts is not None
    if name in ("negative_tokens", "absurd_tokens"):
        return variant.tokens is not None
    if name in ("absurd_cost", "negative_cost"):
        return variant.cost is not None
    if name == "huge_line":
        return variant.huge
    if name == "bad_first_line":
        return variant.container == "jsonl"
    return True


def build_case(variant: Variant, name: str, folder: Path) -> Case:
    """Write the files of one variant x case under ``folder``."""
    built = CASES[name](load_seed(variant), folder)
    built.args = variant.args
    return built
