"""The canonical requests table, built column by column from `RequestRecord`s.

Texts are stored once by hash (a system prompt sent a million times is one row of
`texts`); messages reference them. Python work here is per record and per message,
everything after this point is column arithmetic.
"""

from __future__ import annotations

import hashlib
import operator
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from llmaudit.ingest.coerce import EPOCH
from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.redaction import SECRET_PATTERN
from llmaudit.spill import mapped

REQUEST_SCHEMA: dict[str, Any] = {
    "logged_id": pl.String,
    "source_format": pl.String,
    "source_file": pl.String,
    "source_line": pl.Int64,
    "ts": pl.Datetime("us", "UTC"),
    "provider": pl.String,
    "model": pl.String,
    "endpoint": pl.String,
    "is_batch": pl.Boolean,
    "stream": pl.Boolean,
    "status": pl.String,
    "error_type": pl.String,
    "finish_reason": pl.String,
    "latency_ms": pl.Float64,
    "ttft_ms": pl.Float64,
    "user_id": pl.String,
    "feature": pl.String,
    "team": pl.String,
    "api_key": pl.String,
    "session_id": pl.String,
    "template": pl.String,
    "temperature": pl.Float64,
    "max_tokens": pl.Int64,
    "seed": pl.Int64,
    "top_p": pl.Float64,
    "service_tier": pl.String,
    "inference_geo": pl.String,
    "input_tokens": pl.Int64,
    "cache_read_tokens": pl.Int64,
    "cache_write_tokens": pl.Int64,
    "cache_write_1h_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "reasoning_tokens": pl.Int64,
    "audio_input_tokens": pl.Int64,
    "audio_output_tokens": pl.Int64,
    "output_params": pl.String,
    "web_search_requests": pl.Int64,
    "cost_reported_usd": pl.Float64,
    "request_count": pl.Int64,
    "is_aggregate": pl.Boolean,
    "served_from_cache": pl.Boolean,
    "tools_hash": pl.String,
    "output_hash": pl.String,
    "copy_score": pl.String,
    "copy_no": pl.Int64,
}
MESSAGE_SCHEMA: dict[str, Any] = {
    "copy_no": pl.Int64,
    "seq": pl.Int32,
    "role": pl.Categorical,
    "kind": pl.Categorical,
    "component": pl.Categorical,
    "text_hash": pl.String,
}
"""The columns as the builder collects them: ``logged_id`` is the request's id as logged (or synthesised,
`TableBuilder.synthesise_id`); ``copy_no`` ties a copy's request row to its message rows. The frames it
hands out number the requests instead (`REQUEST_NUMBER`). Role, kind and component are categorical: 4 bytes
a row where a string took a 16-byte view (180 MB less per copy of the messages at 1M requests)."""
TEXT_SCHEMA: dict[str, Any] = {"text_hash": pl.String, "text": pl.String, "chars": pl.Int64}
REQUEST_NUMBER = pl.UInt32
"""The type of ``request_id`` in the analysis frames: the rank of the logged id among the requests, so
sorting by it sorts by the logged id. Five message rows per request keyed by a 4-byte number instead of
a 40-byte string: 240 MB less per copy of the messages at 1M requests, and faster joins."""
_RECORD_FIELDS = operator.attrgetter(*list(REQUEST_SCHEMA)[3:-4])
"""The request row's values taken from the record as they are, in `REQUEST_SCHEMA` order: all but the
first three (id and source) and the last four (hashes, copy score and number)."""
CHUNK_ROWS = 50_000
DIGEST_MEMO_CHARS = 32_000_000
"""Text remembered with its hash per builder (forgotten all at once beyond this)."""
UNIQUE_ID_MIN_CHARS = 16
"""Ids shorter than this (or all digits) are not trusted to be unique beyond their own log: see `dedup_key`."""

def text_hash(text: str) -> str:
    """Stable 128-bit content address of a text."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def dedup_key(logged_id: str | None, content_id: str, local: bool = False) -> str:
    """The key two copies of one request share: its logged id, or its content when the id proves nothing.

    Providers' and proxies' ids (``chatcmpl-…``, ``msg_…``, UUIDs) are unique everywhere, so two records
    with one are one request even when a later export completed its usage. A row number or a short
    custom id (``42``, ``req-1``) is unique only within the table or batch that made it: two apps'
    exports both number their rows from 1. Such an id marks a copy only together with the same
    content (`TableBuilder.synthesise_id`), so a file read twice is still one request each; so does an id
    its reader marks as ``local`` (`RequestRecord.id_is_local`), whatever its length.
    """
    if logged_id is None:
        return content_id
    if local or len(logged_id) < UNIQUE_ID_MIN_CHARS or logged_id.isdigit():
        return f"{logged_id}{CONTENT_SUFFIX}{content_id}"
    return logged_id


CONTENT_SUFFIX = "~"


def shown_id(key: str) -> str:
    """The id as the log wrote it, from a `dedup_key`."""
    logged, separator, content = key.rpartition(CONTENT_SUFFIX)
    return logged if separator and content.startswith("syn-") else key


KEY_IDENTIFIER = re.compile(r"[0-9a-f]{64}|arn:\S+|key_[A-Za-z0-9]{8,32}")
"""What an api_key field holds that is not the key: a SHA-256 of it (LiteLLM's hashed token), an IAM principal's
ARN (Bedrock), an OpenAI key id."""
KEY_LIKE = re.compile(r"(?:(?i:basic|bearer|token)\s+)?[A-Za-z0-9_\-+/=.:~]{20,}")
"""One long run of key characters, perhaps after an auth scheme: a raw key of a shape no pattern knows."""


def redact_key(value: str | None) -> str | None:
    """Keep key identifiers (names, hashes, ids), never secrets: a raw API key, or anything shaped like one,
    becomes a short hash of itself."""
    if value is None or KEY_IDENTIFIER.fullmatch(value):
        return value
    if SECRET_PATTERN.search(value) or KEY_LIKE.fullmatch(value.strip()):
        return "key-" + text_hash(value)[:12]
    return value


def assign_components(messages: list[Message]) -> list[str]:
    """First-pass prompt components: system, history, query, context (refined by token attribution)."""
    last_user = -1
    for index, message in enumerate(messages):
        if message.role == "user" and message.kind not in ("tool_result",):
            last_user = index
    components = []
    for index, message in enumerate(messages):
        if message.role in ("system", "developer"):
            components.append("system")
        elif index < last_user:
            components.append("history")
        elif index == last_user:
            components.append("query")
        elif message.kind == "tool_result" or message.role == "tool":
            components.append("context")
        else:
            components.append("history")
    return components


@dataclass
class TableBuilder:
    """Accumulates requests, messages and unique texts; de-duplicates by request id."""

    feature_keys: tuple[str, ...] = ()
    user_keys: tuple[str, ...] = ()
    team_keys: tuple[str, ...] = ()
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    """Request rows not yet packed into a chunk, as tuples in `REQUEST_SCHEMA` order."""
    messages: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in MESSAGE_SCHEMA})
    seen_texts: set[str] = field(default_factory=set)
    """text_hash of every text stored: the texts themselves go to columnar chunks, never held twice."""
    pending_texts: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in TEXT_SCHEMA})
    text_chunks: list[pl.DataFrame] = field(default_factory=list)
    best_copy: dict[str, tuple[str, int]] = field(default_factory=dict)
    """request id -> (copy_score, copy_no) of the copy kept so far."""
    copies: int = 0
    """Copies appended so far; a copy's number ties its request row to its message rows."""
    request_chunks: list[pl.DataFrame] = field(default_factory=list)
    message_chunks: list[pl.DataFrame] = field(default_factory=list)
    chunk_rows: int = CHUNK_ROWS
    """Rows held as Python lists before they are packed into a columnar chunk (bounds memory)."""
    spill_dir: str | None = None
    """Where the text chunks are written and memory-mapped from (`spill.mapped`); None: held in memory."""
    recent_digests: dict[str, str] = field(default_factory=dict)
    """text -> text_hash of texts met lately (a system prompt sent again and again is hashed once), up to
    `DIGEST_MEMO_CHARS` of text: looking a text up costs a third of hashing it."""
    recent_chars: int = 0
    _numbers: pl.Series | None = None

    def digest(self, text: str) -> str:
        """`text_hash` of a text, remembered for the texts met lately."""
        found = self.recent_digests.get(text)
        if found is None:
            found = text_hash(text)
            if self.recent_chars + len(text) > DIGEST_MEMO_CHARS:
                self.recent_digests.clear()
                self.recent_chars = 0
            self.recent_digests[text] = found
            self.recent_chars += len(text)
        return found

    def _store_text(self, text: str, digest: str | None = None) -> str:
        # Only the hash of a text already seen is kept in Python: memory follows the unique text
        # (in Arrow buffers), not the occurrences, and not Python objects per text.
        if digest is None:
            digest = self.digest(text)
        if digest not in self.seen_texts:
            self.seen_texts.add(digest)
            pending = self.pending_texts
            pending["text_hash"].append(digest)
            pending["text"].append(text)
            pending["chars"].append(len(text))
            if len(pending["text_hash"]) >= self.chunk_rows:
                self._flush_texts()
        return digest

    def _flush_texts(self) -> None:
        if self.pending_texts["text_hash"]:
            self._hold_texts(pl.DataFrame(self.pending_texts, schema=TEXT_SCHEMA))
            self.pending_texts = {name: [] for name in TEXT_SCHEMA}

    def _hold_texts(self, frame: pl.DataFrame) -> None:
        self.text_chunks.append(mapped(frame, self.spill_dir) if self.spill_dir is not None else frame)

    def _derive(self, record: RequestRecord) -> None:
        meta = record.metadata
        if record.feature is None:
            record.feature = _lookup(meta, self.feature_keys)
        if record.user_id is None:
            record.user_id = _lookup(meta, self.user_keys)
        if record.team is None:
            record.team = _lookup(meta, self.team_keys)
        record.api_key = redact_key(record.api_key)

    def synthesise_id(self, record: RequestRecord, source_format: str, digests: list[str] | None = None) -> str:
        """A deterministic id from the record's content, so overlapping exports still de-duplicate.

        ``digests``: the messages' text hashes when already computed.
        """
        parts = [
            source_format, record.model or "", record.ts.isoformat() if record.ts else "",
            str(record.input_tokens), str(record.output_tokens), str(record.cache_read_tokens),
            record.user_id or "", record.session_id or "", record.output_text or "",
            *(digests if digests is not None else (self.digest(m.text) for m in record.messages)),
        ]
        return "syn-" + text_hash("\x1f".join(parts))[:24]

    @staticmethod
    def copy_score(record: RequestRecord, content_id: str) -> str:
        """Which of two copies of one request to keep, whatever order they come in: the most complete.

        More tokens (a later export completed the usage), then more prompt parts, then the content
        hash (``content_id``, see `synthesise_id`), so two different copies never tie and every
        reading order keeps the same one.
        """
        tokens = (record.input_tokens or 0) + (record.output_tokens or 0)
        return f"{min(tokens, 10**15):016d}:{len(record.messages):06d}:{content_id}"

    def key_of(self, record: RequestRecord, source_format: str) -> str:
        """The logged id `add` gives a record as it is now (see `dedup_key`)."""
        return dedup_key(record.request_id, self.synthesise_id(record, source_format), record.id_is_local)

    def add(self, record: RequestRecord, source_format: str, source_file: str) -> bool:
        """Add one request; False when it was already added (a duplicate, see `dedup_key`: the better copy is kept)."""
        self._derive(record)
        digests = [self.digest(message.text) for message in record.messages]
        content_id = self.synthesise_id(record, source_format, digests)
        request_id = dedup_key(record.request_id, content_id, record.id_is_local)
        score = self.copy_score(record, content_id)
        kept = self.best_copy.get(request_id)
        if kept is not None and kept[0] >= score:
            return False
        self.copies += 1
        self.best_copy[request_id] = (score, self.copies)
        self._append(request_id, score, record, source_format, source_file, digests)
        return kept is None

    def _append(self, logged_id: str, score: str, record: RequestRecord, source_format: str, source_file: str,
                digests: list[str]) -> None:
        tools_hash = self._store_text("\n".join(record.tools)) if record.tools else None
        output_hash = self._store_text(record.output_text) if record.output_text else None
        self.rows.append((logged_id, source_format, source_file, *_RECORD_FIELDS(record), tools_hash, output_hash, score,
                          self.copies))
        self._add_messages(self.copies, record, digests)
        if len(self.rows) >= self.chunk_rows:
            self._flush()

    def _flush(self) -> None:
        """Pack the pending rows into columnar chunks and start new lists."""
        if self.rows:
            columns: dict[str, Any] = dict(zip(REQUEST_SCHEMA, zip(*self.rows, strict=True), strict=True))
            columns["ts"] = pl.Series("ts", _micros(columns["ts"]), pl.Int64).cast(REQUEST_SCHEMA["ts"])
            self.request_chunks.append(pl.DataFrame(columns, schema=REQUEST_SCHEMA).with_columns(
                pl.col("input_tokens", "output_tokens").fill_null(0)))
            self.rows = []
        if self.messages["copy_no"]:
            self.message_chunks.append(pl.DataFrame(self.messages, schema=MESSAGE_SCHEMA))
            self.messages = {name: [] for name in MESSAGE_SCHEMA}

    def _add_messages(self, copy_no: int, record: RequestRecord, digests: list[str]) -> None:
        # Column by column (a list's extend per column, not six appends per part: a fifth of the reading's time).
        msg, messages, tools = self.messages, record.messages, record.tools
        parts = len(messages) + len(tools)
        msg["copy_no"].extend([copy_no] * parts)
        msg["seq"].extend(range(len(messages)))
        msg["seq"].extend(range(-1, -1 - len(tools), -1))
        msg["role"].extend([message.role for message in messages])
        msg["role"].extend(["tools"] * len(tools))
        msg["kind"].extend([message.kind for message in messages])
        msg["kind"].extend(["tool_schema"] * len(tools))
        msg["component"].extend(assign_components(messages))
        msg["component"].extend(["tools"] * len(tools))
        msg["text_hash"].extend(map(self._store_text, [message.text for message in messages], digests))
        msg["text_hash"].extend(map(self._store_text, tools))

    def _contiguous(self, chunks: list[pl.DataFrame]) -> pl.DataFrame | None:
        """All rows added to ``chunks``, as one chunk (None when there are none)."""
        self._flush()
        if not chunks:
            return None
        if len(chunks) > 1:
            # Contiguous (later joins would otherwise rechunk again and again), and held once: the chunks go.
            chunks[:] = [pl.concat(chunks, rechunk=True)]
        return chunks[0]

    def _kept_requests(self) -> pl.DataFrame:
        """Request rows of the copies kept (a superseded copy's rows are dropped), in arrival order, with their copy_no."""
        frame = self._contiguous(self.request_chunks)
        if frame is None:
            return pl.DataFrame(schema=REQUEST_SCHEMA)
        if len(self.best_copy) == self.copies:
            return frame  # no copy was superseded: nothing to filter
        kept = pl.Series("copy_no", [number for _, number in self.best_copy.values()], dtype=pl.Int64)
        return frame.filter(pl.col("copy_no").is_in(kept.implode()))

    def _request_numbers(self) -> pl.Series:
        """The number of each copy's request (`REQUEST_NUMBER`), indexed by copy_no; null for a copy superseded."""
        if self._numbers is None or self._numbers.len() != self.copies + 1:
            kept = self._kept_requests().select("copy_no", request_number())
            numbers = np.full(self.copies + 1, -1, dtype=np.int64)
            numbers[kept.get_column("copy_no").to_numpy()] = kept.get_column("request_id").to_numpy()
            # -1 (a copy superseded) is out of the number's range: it becomes null.
            self._numbers = pl.Series("request_id", numbers).cast(REQUEST_NUMBER, strict=False)
        return self._numbers

    def reset(self) -> None:
        """Forget everything added (the same keys): for reading the inputs again."""
        self.__dict__.update(TableBuilder(self.feature_keys, self.user_keys, self.team_keys, chunk_rows=self.chunk_rows,
                                          spill_dir=self.spill_dir).__dict__)

    def export(self) -> BuilderPart:
        """Everything added so far, for another builder to `absorb` (built in a worker process)."""
        self._flush()
        self._flush_texts()

        def whole(chunks: list[pl.DataFrame], schema: dict[str, Any]) -> pl.DataFrame:
            return pl.concat(chunks, rechunk=False) if chunks else pl.DataFrame(schema=schema)

        return BuilderPart(whole(self.request_chunks, REQUEST_SCHEMA), whole(self.message_chunks, MESSAGE_SCHEMA),
                           whole(self.text_chunks, TEXT_SCHEMA), self.best_copy, self.copies)

    def absorb(self, part: BuilderPart, line_offset: int = 0) -> int:
        """Add a part built by another builder, as if its records had been added here, in order.

        ``line_offset`` is added to its source lines (a piece of a file numbers its lines from 1).
        The part's texts are held as given when none is held already (no copy, no second spill).
        Returns how many of its request ids are new here; the rest are duplicates (the better copy
        is kept, as `add` does).
        """
        self._flush()
        offset = self.copies
        if part.requests.height:
            self.request_chunks.append(part.requests.with_columns(
                pl.col("copy_no") + offset, pl.col("source_line") + line_offset))
        if part.messages.height:
            self.message_chunks.append(part.messages.with_columns(pl.col("copy_no") + offset))
        if part.texts.height:
            # Texts already held are dropped as each part arrives: the held text never exceeds the unique text.
            self._flush_texts()
            hashes = part.texts.get_column("text_hash").to_list()
            fresh = [digest not in self.seen_texts for digest in hashes]
            self.seen_texts.update(hashes)
            if all(fresh):
                self.text_chunks.append(part.texts)  # as handed over (the parallel reader maps its worker's file)
            else:
                self._hold_texts(part.texts.filter(pl.Series(fresh)))
        new = 0
        for request_id, (score, number) in part.best_copy.items():
            kept = self.best_copy.get(request_id)
            if kept is None or score > kept[0]:
                self.best_copy[request_id] = (score, number + offset)
            new += kept is None
        self.copies += part.copies
        return new

    def requests_frame(self) -> pl.DataFrame:
        """The requests as a typed DataFrame, one row per request: request_id (`REQUEST_NUMBER`), logged_id, ..."""
        return self._numbered_rows(self.request_chunks, empty_requests())

    def messages_frame(self) -> pl.DataFrame:
        """Message parts (request_id, seq, role, kind, component, text_hash); tools have negative seq."""
        return self._numbered_rows(self.message_chunks, empty_messages())

    def _numbered_rows(self, chunks: list[pl.DataFrame], empty: pl.DataFrame) -> pl.DataFrame:
        """The rows of the copies kept, in arrival order, keyed by their request's number instead of copy_no."""
        frame = self._contiguous(chunks)
        if frame is None:
            return empty
        numbers = self._request_numbers().gather(frame.get_column("copy_no"))
        return frame.select(numbers, pl.exclude("copy_no")).filter(pl.col("request_id").is_not_null())

    def texts_frame(self) -> pl.DataFrame:
        """Unique texts by hash, in order of first appearance: those of the copies kept."""
        self._flush_texts()
        if not self.text_chunks:
            return pl.DataFrame(schema=TEXT_SCHEMA)
        if len(self.text_chunks) > 1:
            # One chunk of views over the chunks' buffers (no text is copied or read): gathering rows from a
            # column of many chunks reads every text of the mapped file (polars 2.1), from one chunk only those.
            self.text_chunks = [pl.concat(self.text_chunks, rechunk=True)]
        if len(self.best_copy) != self.copies:
            # Some copies were superseded: only the texts of the copies kept, whatever the order they came in.
            requests = self.requests_frame()
            used = pl.concat([self.messages_frame().get_column("text_hash"), requests.get_column("tools_hash"),
                              requests.get_column("output_hash")]).drop_nulls()
            return self.text_chunks[0].filter(pl.col("text_hash").is_in(used.implode()))
        return self.text_chunks[0]


@dataclass
class BuilderPart:
    """What one builder holds, handed to another: frames with copy numbers, and which copy each id keeps."""

    requests: pl.DataFrame
    messages: pl.DataFrame
    texts: pl.DataFrame
    best_copy: dict[str, tuple[str, int]]
    copies: int


MICROSECOND = timedelta(microseconds=1)


def _micros(stamps: tuple[datetime | None, ...]) -> list[int | None]:
    """Timestamps as whole microseconds since the epoch (naive ones read as UTC): a column built from these is
    cast to `REQUEST_SCHEMA`'s Datetime in a few ms, where polars took 1.3 us per zoned datetime object."""
    return [None if ts is None else ((ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)) - EPOCH) // MICROSECOND
            for ts in stamps]


def _lookup(meta: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = meta.get(key)
        if value:
            return value
        # tags like "feature:support-bot"
        prefix = f"tag:{key}:"
        for name in meta:
            if name.startswith(prefix):
                return name[len(prefix):]
    return None


def empty_requests() -> pl.DataFrame:
    """A requests frame with no rows and the canonical schema."""
    return _numbered_schema(REQUEST_SCHEMA)


def empty_messages() -> pl.DataFrame:
    """A messages frame with no rows and the canonical schema."""
    return _numbered_schema(MESSAGE_SCHEMA)


def _numbered_schema(schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema={"request_id": REQUEST_NUMBER, **{k: v for k, v in schema.items() if k != "copy_no"}})


def request_number() -> pl.Expr:
    """``request_id`` of the analysis frames (`REQUEST_NUMBER`), from the column ``logged_id``."""
    return pl.col("logged_id").rank("dense").cast(REQUEST_NUMBER).alias("request_id")


def numbered(requests: pl.DataFrame, messages: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Requests and messages keyed by the logged id (as the store holds them) keyed by `request_number`."""
    requests = requests.rename({"request_id": "logged_id"})
    # A store written by an older llmaudit lacks the newer columns: they read as unknown (null).
    requests = requests.with_columns(pl.lit(None, dtype=kind).alias(name) for name, kind in REQUEST_SCHEMA.items()
                                     if name not in requests.columns and name != "copy_no")
    # The canonical types (DuckDB hands back timestamps in the zone "Etc/UTC").
    requests = requests.select(request_number(), pl.all()).cast(
        {name: kind for name, kind in REQUEST_SCHEMA.items() if name in requests.columns})
    messages = messages.rename({"request_id": "logged_id"}).join(
        requests.select("request_id", "logged_id"), on="logged_id", how="inner", maintain_order="left")
    messages = messages.select("request_id", pl.exclude("request_id", "logged_id"))
    return requests, messages.cast({name: kind for name, kind in MESSAGE_SCHEMA.items() if name in messages.columns})


def logged(requests: pl.DataFrame, messages: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The inverse of `numbered`: the frames keyed by the logged id again, in a column named request_id."""
    ids = requests.select("request_id", "logged_id")
    messages = messages.join(ids, on="request_id", how="inner", maintain_order="left")
    return (requests.drop("request_id").rename({"logged_id": "request_id"}),
            messages.select(pl.col("logged_id").alias("request_id"), pl.exclude("request_id", "logged_id")))

