"""Ingestion on every core: files, and big JSONL files cut at line boundaries, read by worker processes.

The work is cut into pieces: a whole file, or a byte range of an uncompressed JSONL file whose
reader parses each record on its own (`Reader.independent_records`). Each worker process
(started from a fork server: a process forked from one that has run polars' thread pool can
deadlock in it) reads one piece at a time into its own `TableBuilder` and hands back the
builder's frames and its reconciliation. The parent absorbs the pieces in input order (each as soon as the pieces before it are in, while the workers go on), so the tables, the
counts and the line numbers are those of reading the files one after another: a request id seen
in two pieces is a duplicate like any other. Request halves (batch input and output lines) are
joined in one process, once every file is read (`Ingestor.finish`).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import polars as pl

from llmaudit.cores import available as available_cores
from llmaudit.ingest.forkserver import PARALLEL_MIN_BYTES, usable
from llmaudit.ingest.forkserver import context as workers_context
from llmaudit.ingest.interface import Reader
from llmaudit.ingest.pipeline import FileSummary, Ingestor, IngestReport, Observer
from llmaudit.ingest.source import LineTally, SourceFile, is_compressed, line_spans_at
from llmaudit.spill import map_file
from llmaudit.table import BuilderPart, TableBuilder

PIECE_BYTES = 128_000_000
"""At most about this much of a big JSONL file per piece (at least two pieces per core): bounds what a worker
holds at once."""
MIN_PIECE_BYTES = 16_000_000
"""The smallest piece cut (about 0.15 s of reading): the pieces shrink towards it at the end of the input."""
POLL_SECONDS = 0.25


class HalvesInPiece(RuntimeError):
    """A piece held request halves (a reader that does not declare `Reader.joins_halves`)."""


WORKER_FAILURES = (OSError, BrokenProcessPool, HalvesInPiece)
"""Why the workers' reading cannot stand (a full temp folder, a killed worker, request halves to join):
the caller reads the files again in one process. Bad input never raises; a bug still does."""


@dataclass(frozen=True)
class Piece:
    """A file, or the lines of a file starting in a byte range."""

    source: SourceFile
    reader: Reader
    kind: str
    span: tuple[int, int] | None = None


@dataclass
class PieceResult:
    """What a worker made of one piece; its frames travel as Arrow files (no pickling through a pipe)."""

    frames: tuple[str, str, str]
    """Arrow IPC files of the part's requests, messages and texts."""
    best_copy: dict[str, tuple[str, int]]
    copies: int
    report: IngestReport
    summary: FileSummary
    lines: int
    """Lines in the piece (for the line numbers of the pieces after it)."""

Keys = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_shared: tuple[list[Piece], Keys, Any, str] | None = None
"""(pieces, builder keys, progress counters, folder for the frames), set in each worker by `_start`."""


def _start(*shared: Any) -> None:
    global _shared
    _shared = shared  # type: ignore[assignment]


def cores() -> int:
    """Cores this process may run on."""
    return available_cores()


def worth_parallel(files: list[SourceFile]) -> bool:
    """True when there are several cores, a fork server, and enough input to pay for the workers."""
    if cores() < 2 or not usable():
        return False
    return sum(source.size_bytes() for source in files) >= PARALLEL_MIN_BYTES


def plan(ingestor: Ingestor, files: list[SourceFile], workers: int) -> list[Piece]:
    """The pieces, in input order; detection happens here (its errors too).

    Big JSONL files are cut into pieces that shrink as the input left shrinks (each about 1/``workers`` of
    what is left after it, within [MIN_PIECE_BYTES, PIECE_BYTES]), so the workers end together: with even
    pieces, one worker read the last piece alone while the other core idled (0.5-1 s at 100k requests).
    """
    total = sum(source.size_bytes() for source in files)
    largest = max(1, min(PIECE_BYTES, total // (workers * 2) + 1))
    pieces = []
    left = total
    for source in files:
        chosen = ingestor.choose_reader(source)
        size = source.size_bytes()
        if chosen is None:
            left -= size
            continue
        reader, kind = chosen
        if kind == "jsonl" and reader.independent_records and size > largest and not is_compressed(source):
            cuts, at = [], 0
            while at < size:
                at += max(min(largest, (left - at) // workers), min(MIN_PIECE_BYTES, largest))
                if at < size:
                    cuts.append(at)
            pieces += [Piece(source, reader, kind, span) for span in line_spans_at(source, cuts)]
        else:
            pieces.append(Piece(source, reader, kind))
        left -= size
    return pieces


def _read_piece(index: int) -> PieceResult:
    assert _shared is not None
    pieces, keys, counters, folder = _shared
    piece = pieces[index]
    builder = TableBuilder(feature_keys=keys[0], user_keys=keys[1], team_keys=keys[2])

    def progress(_: str, records: int) -> None:
        counters[index] = records

    ingestor = Ingestor(builder, piece.reader, progress)
    tally = LineTally()
    summary = ingestor.read_span(piece.source, piece.reader, piece.kind, piece.span, tally)
    counters[index] = summary.records
    if ingestor.halves:
        raise HalvesInPiece(f"{piece.source.name}: {ingestor.halves} request halves to join, read in one process")
    part = builder.export()
    frames = tuple(os.path.join(folder, f"{index}-{name}.arrow") for name in ("requests", "messages", "texts"))
    for frame, path in zip((part.requests, part.messages, part.texts), frames, strict=True):
        frame.write_ipc(path, compression="uncompressed")
    lines = tally.lines if piece.span is not None else 0
    return PieceResult(frames, part.best_copy, part.copies, ingestor.report, summary, lines)  # type: ignore[arg-type]


def ingest_parallel(ingestor: Ingestor, files: list[SourceFile], on_progress: Observer | None) -> None:
    """Read ``files`` into the ingestor's builder with one worker process per core (no `finish`).

    Inputs with request halves to join (batch files) are read in this process: a half waits for its
    other half across files.
    A worker that dies (killed, out of memory) ends the run with an error rather than a wait.
    """
    workers = cores()
    pieces = plan(ingestor, files, workers)
    if len(pieces) < 2 or any(piece.reader.joins_halves for piece in pieces):
        for source, reader, kind in dict.fromkeys((p.source, p.reader, p.kind) for p in pieces):
            ingestor.report.files.append(ingestor.read_span(source, reader, kind))
        return
    context = workers_context()
    counters = context.RawArray("q", len(pieces))
    builder = ingestor.builder
    keys = (builder.feature_keys, builder.user_keys, builder.team_keys)
    with tempfile.TemporaryDirectory(prefix="llmaudit-ingest-") as folder, ProcessPoolExecutor(
        min(workers, len(pieces)), mp_context=context, initializer=_start, initargs=(pieces, keys, counters, folder),
    ) as pool:
        futures = [pool.submit(_read_piece, index) for index in range(len(pieces))]
        absorber = _Absorber(ingestor)
        try:
            while absorber.absorbed < len(pieces):
                wait(futures[absorber.absorbed:], timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                _report_progress(pieces, counters, on_progress)
                while absorber.absorbed < len(pieces) and futures[absorber.absorbed].done():
                    # result(): BrokenProcessPool when a worker died. Read before the folder goes (polars
                    # may map the files; a mapping outlives their deletion).
                    absorber.add(pieces[absorber.absorbed], futures[absorber.absorbed].result())
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # the pieces not started are dropped
            raise
        absorber.close()


def _report_progress(pieces: list[Piece], counters: Any, on_progress: Observer | None) -> None:
    if on_progress is None:
        return
    per_file: Counter[str] = Counter()
    for index, piece in enumerate(pieces):
        per_file[piece.source.name] += counters[index]
    for name, records in per_file.items():
        if records:
            on_progress(name, records)


class _Absorber:
    """Merges finished pieces into the ingestor in input order, as a sequential read would have counted them.

    Pieces are absorbed as soon as every piece before them is done, while the workers go on.
    """

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.absorbed = 0
        self._summaries: dict[str, Counter[str]] = {}
        self._formats: dict[str, str] = {}
        self._lines_before: Counter[str] = Counter()

    def add(self, piece: Piece, result: PieceResult) -> None:
        """Absorb the next piece (pieces must come in input order)."""
        ingestor, report = self.ingestor, self.ingestor.report
        name = piece.source.name
        offset = self._lines_before[name]
        self._lines_before[name] += result.lines
        counts = self._summaries.setdefault(name, Counter())
        self._formats.setdefault(name, result.summary.format)
        requests, messages = (pl.read_ipc(path) for path in result.frames[:2])
        for path in result.frames[:2]:
            os.unlink(path)  # the frames are read: the temp folder holds only what is still to absorb
        texts = map_file(result.frames[2])  # the worker's file itself, mapped: never read into memory, never rewritten
        new = ingestor.builder.absorb(BuilderPart(requests, messages, texts, result.best_copy, result.copies), offset)
        part = result.report
        report.records_read += part.records_read
        report.requests += new
        report.duplicates += part.duplicates + part.requests - new
        report.skipped += part.skipped
        report.skipped_reasons.update(part.skipped_reasons)
        for reject in part.rejects:
            report.reject(reject.file, reject.line + offset if reject.line else 0, reject.reason)
        report.rejected += part.rejected - len(part.rejects)  # those beyond the listed ones
        counts.update({"read": result.summary.records, "requests": new, "rejected": result.summary.rejected,
                       "skipped": result.summary.skipped})
        self.absorbed += 1

    def close(self) -> None:
        """The per-file summaries, once every piece is in."""
        for name, counts in self._summaries.items():
            self.ingestor.report.files.append(FileSummary(
                name, self._formats[name], counts["read"], counts["requests"], counts["rejected"], counts["skipped"]))
