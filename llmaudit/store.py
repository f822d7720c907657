"""The DuckDB file: requests (one row per request id), messages, and texts stored once by hash.

Re-running on the same files replaces rows by request id, so nothing is counted twice. What each
file's latest read made of it (records, requests, rejections and their reasons) is kept too, so an
audit of the store alone still says what was rejected; and so are the request halves still waiting
for their other half (a batch input file read tonight, its output file tomorrow), which a later run
completes. The file is created with user-only permissions: it holds prompts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import msgspec
import polars as pl

from llmaudit.errors import InputError
from llmaudit.ingest.pipeline import (
    MAX_LISTED_REJECTS,
    FileSummary,
    IngestReport,
    RejectedRecord,
    WaitingHalf,
)
from llmaudit.ingest.records import RequestRecord
from llmaudit.table import empty_messages, empty_requests, logged, numbered

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS texts (text_hash VARCHAR PRIMARY KEY, text VARCHAR, chars BIGINT, tokens BIGINT);
CREATE TABLE IF NOT EXISTS messages (
    request_id VARCHAR, seq INTEGER, role VARCHAR, kind VARCHAR, component VARCHAR, text_hash VARCHAR
);
CREATE TABLE IF NOT EXISTS files (
    file VARCHAR PRIMARY KEY, format VARCHAR, records BIGINT, requests BIGINT, rejected BIGINT, skipped BIGINT
);
CREATE TABLE IF NOT EXISTS rejects (file VARCHAR, line BIGINT, reason VARCHAR);
CREATE TABLE IF NOT EXISTS waiting_halves (source_format VARCHAR, source_file VARCHAR, record VARCHAR);
ALTER TABLE waiting_halves ADD COLUMN IF NOT EXISTS copy BOOLEAN DEFAULT false;
CREATE TABLE IF NOT EXISTS joined_halves (identity VARCHAR PRIMARY KEY);
"""


@contextlib.contextmanager
def _private_files() -> Iterator[None]:
    """A user-only umask while DuckDB may create files: the database and its write-ahead log hold prompts.

    DuckDB creates the WAL on the first write after each checkpoint, not when the file is
    opened, so every statement that writes runs inside this.
    """
    old_umask = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old_umask)


class Store:
    """An open DuckDB store (a file, or memory when no path is given)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _private_files():
                try:
                    self.db = duckdb.connect(str(path))
                except duckdb.Error as exc:
                    raise InputError(f"{path}: cannot open the DuckDB store: {exc}") from exc
            # A store created by an older llmaudit (or by hand) may be readable by others.
            for private in (path, path.with_name(path.name + ".wal")):
                with contextlib.suppress(OSError):
                    os.chmod(private, 0o600)
        else:
            self.db = duckdb.connect(":memory:")
        with _private_files():
            self.db.execute(DDL)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]).fetchall()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Statements that all land or none, with user-only permissions on whatever file they create."""
        with _private_files():
            self.db.execute("BEGIN")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except duckdb.Error:
                self.db.execute("ROLLBACK")
                raise

    def write(self, requests: pl.DataFrame, messages: pl.DataFrame, texts: pl.DataFrame,
              superseded: list[str] | None = None) -> None:
        """Upsert requests by id, keeping the more complete copy (its messages with it); add new texts.

        The frames are the analysis frames (`table.REQUEST_NUMBER` ids): the store keys rows by the logged id.
        ``superseded``: logged ids of stored requests to drop first (`IngestReport.superseded`).
        """
        requests, messages = logged(requests, messages)
        db = self.db
        db.register("incoming_requests", requests)
        db.register("incoming_messages", messages)
        db.register("incoming_texts", texts)
        try:
            with self._transaction():
                if superseded and self._has_requests():
                    keys = [[key] for key in superseded]
                    db.executemany("DELETE FROM messages WHERE request_id = ?", keys)
                    db.executemany("DELETE FROM requests WHERE request_id = ?", keys)
                self._write()
        finally:
            for name in ("incoming_requests", "incoming_messages", "incoming_texts"):
                db.unregister(name)

    def _write(self) -> None:
        """The upsert of the registered incoming frames (inside a transaction)."""
        db = self.db
        db.execute("CREATE TABLE IF NOT EXISTS requests AS SELECT * FROM incoming_requests LIMIT 0")
        self._add_new_columns()
        self._ensure_primary_key()
        # Of two copies of one request the more complete wins (copy_score), whichever was written first.
        db.execute(
            "CREATE OR REPLACE TEMP TABLE winning_ids AS SELECT i.request_id FROM incoming_requests i "
            "LEFT JOIN requests r USING (request_id) "
            "WHERE r.request_id IS NULL OR r.copy_score IS NULL OR r.copy_score < i.copy_score"
        )
        db.execute("DELETE FROM requests WHERE request_id IN (SELECT request_id FROM winning_ids)")
        db.execute("INSERT INTO requests BY NAME SELECT * FROM incoming_requests "
                   "WHERE request_id IN (SELECT request_id FROM winning_ids)")
        db.execute("DELETE FROM messages WHERE request_id IN (SELECT request_id FROM winning_ids)")
        db.execute(
            "INSERT INTO messages SELECT request_id, seq, role, kind, component, text_hash FROM incoming_messages "
            "WHERE request_id IN (SELECT request_id FROM winning_ids)"
        )
        db.execute(
            "INSERT INTO texts SELECT t.text_hash, t.text, t.chars, NULL FROM incoming_texts t "
            "WHERE NOT EXISTS (SELECT 1 FROM texts s WHERE s.text_hash = t.text_hash)"
        )

    def write_report(self, report: IngestReport) -> None:
        """Keep what this run made of each file it read, replacing what an earlier read of the file left."""
        names = {summary.file for summary in report.files}
        rows = [(f.file, f.format, f.records, f.requests, f.rejected, f.skipped) for f in report.files]
        rejects = [(r.file, r.line, r.reason) for r in report.rejects if r.file in names]
        with self._transaction() as db:
            for name in names:
                db.execute("DELETE FROM files WHERE file = ?", [name])
                db.execute("DELETE FROM rejects WHERE file = ?", [name])
            if rows:
                db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
            if rejects:
                db.executemany("INSERT INTO rejects VALUES (?, ?, ?)", rejects)

    def waiting_halves(self) -> list[WaitingHalf]:
        """The request halves earlier runs left without their other half, in the order they were read."""
        rows = self.db.execute(
            "SELECT source_format, source_file, record, copy FROM waiting_halves ORDER BY rowid").fetchall()
        return [WaitingHalf(msgspec.json.decode(record, type=RequestRecord), fmt, file, copy=bool(copy))
                for fmt, file, record, copy in rows]

    def joined_among(self, identities: list[str]) -> set[str]:
        """Which of these request halves (`half_identity`) earlier runs joined into stored requests."""
        if not identities:
            return set()
        self.db.register("asked_halves", pl.DataFrame({"identity": identities}, schema={"identity": pl.String}))
        try:
            rows = self.db.execute("SELECT identity FROM joined_halves SEMI JOIN asked_halves USING (identity)").fetchall()
        finally:
            self.db.unregister("asked_halves")
        return {row[0] for row in rows}

    def write_halves(self, report: IngestReport) -> None:
        """Keep the halves still alone after this run, and the identities of those joined (read again, they
        are duplicates); an earlier run's half completed now is no longer a rejection of its file (its input
        line became part of a request)."""
        rows = [(h.source_format, h.source_file, msgspec.json.encode(h.record).decode(), h.copy) for h in report.unjoined]
        with self._transaction() as db:
            db.execute("DELETE FROM waiting_halves")
            if rows:
                db.executemany("INSERT INTO waiting_halves VALUES (?, ?, ?, ?)", rows)
            if report.joined_now:
                db.register("incoming_joined", pl.DataFrame({"identity": report.joined_now}))
                try:
                    db.execute("INSERT OR IGNORE INTO joined_halves SELECT DISTINCT identity FROM incoming_joined")
                finally:
                    db.unregister("incoming_joined")
            read_now = {summary.file for summary in report.files}  # their summaries and rejections are this run's
            for half in report.joined_earlier:
                if half.record.is_partial and not half.copy and half.source_file not in read_now:  # its run rejected it
                    db.execute("UPDATE files SET rejected = rejected - 1 WHERE file = ? AND rejected > 0",
                               [half.source_file])
                    db.execute("DELETE FROM rejects WHERE file = ? AND line = ?", [half.source_file, half.record.source_line])

    def stored_report(self, requests: int) -> IngestReport:
        """The ingest report of an audit of the store alone: its ``requests``, and every file's latest read.

        Each file's requests are those the store holds from it (a request read again from another file is
        stored once); the records read beyond the requests and the rejections are duplicates: copies met in
        another file or run, and request halves joined to their other half (as many as the store joined).
        """
        files = [FileSummary(*row) for row in self.db.execute(
            "SELECT file, format, records, requests, rejected, skipped FROM files ORDER BY file").fetchall()]
        if self._has_requests():
            stored = dict(self.db.execute("SELECT source_file, count(*) FROM requests GROUP BY source_file").fetchall())
            # A name read again (stdin, a rotated log) keeps the requests of its earlier, longer read: its records
            # are at least those, so each row adds up.
            files = [dataclasses.replace(f, requests=stored.get(f.file, 0),
                                         records=max(f.records, stored.get(f.file, 0) + f.rejected)) for f in files]
        rejected = sum(f.rejected for f in files)
        # Each row holds at least its requests and rejections; requests from a file no row names (a store written
        # before files were recorded) would make this negative.
        duplicates = max(sum(f.records for f in files) - requests - rejected, 0)
        joined = self.db.execute("SELECT count(*) FROM joined_halves").fetchall()[0][0]
        rejects = [RejectedRecord(*row) for row in self.db.execute(
            "SELECT file, line, reason FROM rejects ORDER BY file, line, reason LIMIT ?", [MAX_LISTED_REJECTS]).fetchall()]
        return IngestReport(records_read=requests + duplicates + rejected, requests=requests, duplicates=duplicates,
                            rejected=rejected, skipped=sum(f.skipped for f in files), rejects=rejects, files=files,
                            merged_halves=min(joined // 2, duplicates))

    def _add_new_columns(self) -> None:
        """A store written by an older llmaudit lacks newer columns: add them (older rows get NULL)."""
        existing = {row[0] for row in self.db.execute("DESCRIBE requests").fetchall()}
        for name, kind, *_ in self.db.execute("DESCRIBE incoming_requests").fetchall():
            if name not in existing:
                self.db.execute(f'ALTER TABLE requests ADD COLUMN "{name}" {kind}')

    def _ensure_primary_key(self) -> None:
        # CREATE TABLE AS cannot declare a key; an index keeps lookups by id fast.
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS requests_id ON requests(request_id)")

    def requests_and_messages(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """All stored requests and message parts, as analysis frames (`table.numbered`)."""
        if not self._has_requests():
            return empty_requests(), empty_messages()
        requests = self.db.sql("SELECT * FROM requests ORDER BY request_id").pl()
        messages = self.db.sql("SELECT request_id, seq, role, kind, component, text_hash FROM messages").pl()
        return numbered(requests, messages)

    def texts(self) -> pl.DataFrame:
        """All stored texts."""
        return self.db.sql("SELECT text_hash, text, chars FROM texts").pl()

    def _has_requests(self) -> bool:
        found = self.db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'requests'"
        ).fetchall()
        return bool(found and found[0][0])

    def counts(self) -> dict[str, int]:
        """Row counts of each table (for tests and the terminal)."""
        out: dict[str, int] = {}
        for table in ("requests", "messages", "texts"):
            if table == "requests" and not self._has_requests():
                out[table] = 0
                continue
            rows = self.db.execute(f"SELECT count(*) FROM {table}").fetchall()
            out[table] = int(rows[0][0]) if rows else 0
        return out

    def close(self) -> None:
        """Close the connection (flushes the file)."""
        with _private_files():
            self.db.close()
