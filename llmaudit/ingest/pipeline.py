"""Ingestion: files -> detected readers -> canonical table, with every record accounted for.

Reconciliation: ``records_read = requests + duplicates + rejected``; ``merged_halves`` says how many
of the duplicates are not copies but the second half of a request (a batch input line joined to its
output line). Lines that are valid but are not API calls (a transcript's user turns) are counted
apart as ``skipped``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from llmaudit.errors import InputError
from llmaudit.ingest.container import iter_records
from llmaudit.ingest.interface import Reader
from llmaudit.ingest.records import Rejection, RequestRecord, Skipped
from llmaudit.ingest.registry import detect, readers
from llmaudit.ingest.source import LineTally, SourceFile
from llmaudit.table import TableBuilder

MAX_LISTED_REJECTS = 1000


@dataclass(frozen=True)
class RejectedRecord:
    """A record that was not analysed, and why."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class FileSummary:
    """What one input file contributed."""

    file: str
    format: str
    records: int
    requests: int
    rejected: int
    skipped: int


@dataclass
class IngestReport:
    """The reconciliation of one run's inputs."""

    records_read: int = 0
    requests: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    merged_halves: int = 0
    """Of the duplicates, request halves merged into their other half (a batch input line and its result)."""
    rejects: list[RejectedRecord] = field(default_factory=list)
    skipped_reasons: Counter[str] = field(default_factory=Counter)
    files: list[FileSummary] = field(default_factory=list)
    unrecognised_files: list[RejectedRecord] = field(default_factory=list)
    """Files found in a directory whose format could not be detected (named files are an error instead)."""
    unjoined: list[WaitingHalf] = field(default_factory=list)
    """Request halves still without their other half at the end (a store keeps them for a later run)."""
    joined_earlier: list[WaitingHalf] = field(default_factory=list)
    """Halves kept from an earlier run that met their other half in this one."""
    superseded: list[str] = field(default_factory=list)
    """Logged ids of requests an earlier run priced from their output alone, now joined to their input: a store
    drops them (the joined request may have another id: a failed result's is local, with its prompt)."""
    joined_now: list[str] = field(default_factory=list)
    """The identities (`half_identity`) of the halves joined in this run: a store keeps them, so that a file
    read again later is known to be in requests already."""

    def reject(self, file: str, line: int, reason: str) -> None:
        """Count a rejection; keep the first MAX_LISTED_REJECTS for the report."""
        self.rejected += 1
        if len(self.rejects) < MAX_LISTED_REJECTS:
            self.rejects.append(RejectedRecord(file, line, reason))

    @property
    def balanced(self) -> bool:
        """True when every record read is analysed, a duplicate or rejected."""
        return self.records_read == self.requests + self.duplicates + self.rejected


Observer = Callable[[str, int], None]
"""Progress callback: (file name, bytes or records advanced)."""
JoinedLookup = Callable[[list[str]], set[str]]
"""Which of these half identities (`half_identity`) earlier runs joined into requests (`Store.joined_among`)."""


@dataclass
class WaitingHalf:
    """One half of a request logged in two places (batch input / output), waiting for the other."""

    record: RequestRecord
    source_format: str
    source_file: str
    earlier: bool = False
    """Read in an earlier run (kept by the store): counted there, so not counted again here."""
    identity: str = ""
    """`half_identity` of the record."""
    copy: bool = False
    """Counted as a duplicate, not rejected: an input half like one an earlier run joined, which waits in case
    it is another batch's input with the same prompt (a nightly job submitting the same file)."""


def half_identity(record: RequestRecord) -> str:
    """What makes two halves one line read twice: an input's prompt and parameters; an output's id, or, when it
    has none unique beyond its file, its id, usage and output."""
    parts: tuple[Any, ...]
    if record.is_partial:
        parts = (record.join_key, "input", record.model, record.messages, record.tools, record.max_tokens)
        if record.output_params is not None:  # appended only when set: earlier runs' identities stay as they were
            parts = (*parts, record.output_params)
    elif record.request_id is not None and not record.id_is_local:
        parts = (record.join_key, "output", record.request_id)
    else:
        parts = (record.join_key, "output", record.request_id, record.model, record.input_tokens,
                 record.output_tokens, record.output_text, record.error_type)
    return hashlib.blake2b(msgspec.json.encode(parts), digest_size=16).hexdigest()


def _merge_halves(partial: RequestRecord, full: RequestRecord) -> RequestRecord:
    """Complete an output record with the prompt and parameters of its input half."""
    full.messages = partial.messages
    full.tools = partial.tools
    for name in ("temperature", "max_tokens", "seed", "top_p", "output_params", "user_id", "feature", "team",
                 "session_id"):
        if getattr(full, name) is None:
            setattr(full, name, getattr(partial, name))
    full.metadata = {**partial.metadata, **full.metadata}
    full.endpoint = full.endpoint or partial.endpoint
    if full.model is None:
        full.model = partial.model
    return full


PAIRING_MAX_CANDIDATES = 10_000
"""Beyond this many (input, output) candidates under one custom id, halves are paired in reading order."""


def _pairs(partials: list[WaitingHalf], fulls: list[WaitingHalf]) -> list[tuple[WaitingHalf, WaitingHalf]]:
    """Pair the input and output halves of one custom id, taking the pairs out of both lists.

    One of each (the usual case) is a pair. When batches reuse the id, the best-fitting pairs go first:
    the model the input asked for, then the prompt size nearest the output's billed input, then reading
    order, so the pairing does not depend on the order the files were given in.
    """
    if len(partials) * len(fulls) > PAIRING_MAX_CANDIDATES:
        candidates = [(i, i) for i in range(min(len(partials), len(fulls)))]
    else:
        candidates = [(i, j) for i in range(len(partials)) for j in range(len(fulls))]
        candidates.sort(key=lambda pair: _misfit(partials[pair[0]].record, fulls[pair[1]].record))
    taken_partials: set[int] = set()
    taken_fulls: set[int] = set()
    pairs = []
    for i, j in candidates:
        if i in taken_partials or j in taken_fulls or (partials[i].earlier and fulls[j].earlier):
            continue
        taken_partials.add(i)
        taken_fulls.add(j)
        pairs.append((partials[i], fulls[j]))
    partials[:] = [half for i, half in enumerate(partials) if i not in taken_partials]
    fulls[:] = [half for j, half in enumerate(fulls) if j not in taken_fulls]
    return pairs


def _misfit(partial: RequestRecord, full: RequestRecord) -> tuple[bool, float]:
    """How badly an output fits an input: another model, then the distance from the input's prompt size
    (about 4 characters a token) to the input the output was billed for."""
    asked, served = partial.model, full.model
    same_model = asked is None or served is None or served == asked or served.startswith(asked + "-")
    if full.input_tokens is None:
        return not same_model, 0.0
    chars = sum(len(message.text) for message in partial.messages) + sum(len(tool) for tool in partial.tools)
    return not same_model, abs(chars / 4 - full.input_tokens)


@dataclass
class Ingestor:
    """Reads files into a TableBuilder, joining split requests and counting everything."""

    builder: TableBuilder
    forced_reader: Reader | None = None
    on_progress: Observer | None = None
    report: IngestReport = field(default_factory=IngestReport)
    _partials: dict[str, list[WaitingHalf]] = field(default_factory=dict)
    _fulls: dict[str, list[WaitingHalf]] = field(default_factory=dict)
    """Halves waiting for their other half, by join key: several when batches reuse custom ids."""
    halves: int = 0
    """Request halves seen (records with a ``join_key``): joining them depends on reading order."""
    joined_before: JoinedLookup | None = None
    """Which of some half identities earlier runs joined into requests (a store keeps them)."""

    def resume(self, halves: list[WaitingHalf], joined: JoinedLookup | None = None) -> None:
        """Halves an earlier run left waiting (the halves read now may complete them), and the lookup of the
        halves those earlier runs joined (read again now, they are duplicates of stored requests)."""
        for half in halves:
            key = half.record.join_key
            assert key is not None
            (self._partials if half.record.is_partial else self._fulls).setdefault(key, []).append(WaitingHalf(
                half.record, half.source_format, half.source_file, earlier=True, identity=half_identity(half.record),
                copy=half.copy))
        self.joined_before = joined

    def read_file(self, source: SourceFile) -> None:
        """Detect the file's format and ingest every record of it."""
        chosen = self.choose_reader(source)
        if chosen is not None:
            reader, kind = chosen
            self.report.files.append(self.read_span(source, reader, kind))

    def choose_reader(self, source: SourceFile) -> tuple[Reader, str] | None:
        """(reader, container kind) of a file; None (listed as unrecognised) for a file found in a directory."""
        if self.forced_reader is not None:
            from llmaudit.ingest.container import sample

            return self.forced_reader, sample(source).kind
        try:
            reader, found = detect(source, readers())
        except InputError as exc:
            if source.explicit:
                raise
            self.report.unrecognised_files.append(RejectedRecord(source.name, 0, str(exc)))
            return None
        return reader, found.kind

    def read_span(self, source: SourceFile, reader: Reader, kind: str, span: tuple[int, int] | None = None,
                  tally: LineTally | None = None) -> FileSummary:
        """Ingest the records of a file (or of the byte range ``span`` of it); what they contributed.

        ``tally``: given the number of lines read (see `iter_lines`).
        """
        counts: Counter[str] = Counter()
        for item in reader.parse(self._records(source, kind, counts, span, tally)):
            self._accept(item, reader.name, source.name, counts)
        return FileSummary(source.name, reader.name, counts["read"], counts["requests"], counts["rejected"],
                           counts["skipped"])

    def _records(self, source: SourceFile, kind: str, counts: Counter[str], span: tuple[int, int] | None = None,
                 tally: LineTally | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """Numbered dict records; container-level failures are rejected here."""
        for line, record in iter_records(source, kind, span, tally):
            if isinstance(record, Rejection):
                counts["read"] += 1
                counts["rejected"] += 1
                self.report.records_read += 1
                self.report.reject(source.name, record.line, record.reason)
                continue
            if self.on_progress is not None and line % 2000 == 0:
                self.on_progress(source.name, line)
            yield line, record

    def _accept(self, item: object, fmt: str, file: str, counts: Counter[str]) -> None:
        if isinstance(item, Skipped):
            self.report.skipped += 1
            counts["skipped"] += 1
            self.report.skipped_reasons[item.reason.split(" (")[0]] += 1
            return
        self.report.records_read += 1
        counts["read"] += 1
        if isinstance(item, Rejection):
            counts["rejected"] += 1
            self.report.reject(file, item.line, item.reason)
            return
        if not isinstance(item, RequestRecord):
            self.report.reject(file, 0, f"reader {fmt} produced {type(item).__name__}")
            return
        if item.join_key is not None:
            self._join(item, fmt, file, counts)
            return
        self._add(item, fmt, file, counts)

    def _add(self, record: RequestRecord, fmt: str, file: str, counts: Counter[str]) -> bool:
        """Add a request to the table; False when it is a duplicate."""
        if self.builder.add(record, fmt, file):
            self.report.requests += 1
            counts["requests"] += 1
            return True
        self.report.duplicates += 1
        return False

    def _join(self, record: RequestRecord, fmt: str, file: str, counts: Counter[str]) -> None:
        """Keep a request half until every file is read (`finish` joins them): custom ids are unique only within
        a batch, so which output belongs to which input is decided with every candidate known."""
        key = record.join_key
        assert key is not None
        self.halves += 1
        queue = (self._partials if record.is_partial else self._fulls).setdefault(key, [])
        identity = half_identity(record)
        half = WaitingHalf(record, fmt, file, identity=identity)
        earlier = [kept for kept in queue if kept.earlier and kept.identity == identity]
        if record.is_partial and any(kept.source_file != file for kept in earlier):
            # An input an earlier run left waiting, now in another file: a copy, or the same prompt sent in
            # another batch. Counted as a duplicate, it waits beside the first for an output of its own.
            self.report.duplicates += 1
            half.copy = True
        elif earlier:
            # Read again now, a half kept from an earlier run is counted by this run (and reported if it
            # stays alone).
            queue[:] = [kept for kept in queue if not (kept.earlier and kept.identity == identity)]
        # The same half twice in this run waits twice: two batches may send the same prompt under the same
        # custom id, and which copies are duplicates is known once they are paired (`finish`).
        queue.append(half)

    def _joined_before(self) -> set[str]:
        """The identities of the halves read now that earlier runs joined into requests (`joined_before`)."""
        if self.joined_before is None:
            return set()
        return self.joined_before([half.identity for queues in (self._fulls, self._partials)
                                   for queue in queues.values() for half in queue if not half.earlier])

    def _join_waiting(self, late: dict[str, Counter[str]]) -> None:
        """Join each output half to its input half; the pairs are requests of the output's file."""
        for key, partials in self._partials.items():
            fulls = self._fulls.get(key)
            if not fulls:
                continue
            for partial, full in _pairs(partials, fulls):
                self.report.joined_now += [partial.identity, full.identity]
                if full.earlier:
                    self.report.superseded.append(self.builder.key_of(full.record, full.source_format))
                added = self._add(_merge_halves(partial.record, full.record), full.source_format, full.source_file,
                                  late.setdefault(full.source_file, Counter()))
                if partial.earlier or full.earlier:
                    # Its other half was read (and counted) in an earlier run: this one completes the request.
                    self.report.joined_earlier.append(partial if partial.earlier else full)
                elif not partial.copy:  # a copy was counted (as a duplicate) when it was read
                    # The second half of a pair is merged into the request: counted as a duplicate record (and as
                    # a merged half, unless the pair is a copy of another: both files read twice).
                    self.report.duplicates += 1
                    self.report.merged_halves += added

    def finish(self) -> IngestReport:
        """Join the request halves; flush those still alone: a copy of a half joined now or in an earlier
        run, or of another half alone, is a duplicate; outputs alone are requests, inputs alone are rejected
        (each counted in its file's summary too, so the files add up to the run)."""
        late: dict[str, Counter[str]] = {}
        known = self._joined_before()
        for queue in self._fulls.values():
            # An output an earlier run joined is a copy of a stored request: it takes no input away.
            kept = [half for half in queue if half.earlier or half.identity not in known]
            self.report.duplicates += len(queue) - len(kept)
            queue[:] = kept
        self._join_waiting(late)
        waiting = [half for queues in (self._fulls, self._partials) for queue in queues.values() for half in queue]
        seen = set(self.report.joined_now)
        alone: list[WaitingHalf] = []
        for half in waiting:
            if half.earlier or half.copy:
                alone.append(half)  # counted in its own run, or as a copy when it was read
                continue
            if half.identity in seen or half.identity in known:
                self.report.duplicates += 1  # the same line read twice (a file given twice, overlapping downloads)
                if half.identity in known and half.identity not in seen:
                    # Like an input an earlier run joined: a copy, or the same prompt in another batch, whose
                    # output a later run may bring. It waits, counted as a duplicate.
                    alone.append(dataclasses.replace(half, copy=True))
                seen.add(half.identity)
                continue
            seen.add(half.identity)
            alone.append(half)
        fulls = [half for half in alone if not half.record.is_partial]
        partials = [half for half in alone if half.record.is_partial]
        self.report.unjoined = [*fulls, *partials]
        for pending in fulls:
            if pending.earlier:
                continue  # priced alone in its own run
            self._add(pending.record, pending.source_format, pending.source_file,
                      late.setdefault(pending.source_file, Counter()))
        for pending in partials:
            if pending.earlier or pending.copy:
                continue  # reported in its own run, or counted as a duplicate
            late.setdefault(pending.source_file, Counter())["rejected"] += 1
            self.report.reject(
                pending.source_file, pending.record.source_line,
                "batch input line with no matching output line (not executed, or its output file was not given)",
            )
        self._fulls.clear()
        self._partials.clear()
        last = {summary.file: index for index, summary in enumerate(self.report.files)}  # a file given twice: its last read
        for name, counts in late.items():
            if name in last:
                summary = self.report.files[last[name]]
                self.report.files[last[name]] = dataclasses.replace(
                    summary, requests=summary.requests + counts["requests"], rejected=summary.rejected + counts["rejected"])
        return self.report


def ingest_files(
    files: list[SourceFile], builder: TableBuilder, forced_reader: Reader | None = None,
    on_progress: Observer | None = None, waiting: list[WaitingHalf] | None = None, joined: JoinedLookup | None = None,
) -> IngestReport:
    """Ingest every file into the builder; InputError for a file whose format cannot be detected.

    ``waiting``: request halves an earlier run left alone (see `WaitingHalf.earlier`); ``joined``: which
    halves earlier runs joined (`IngestReport.joined_now`, kept by a store).
    """
    if not files:
        raise InputError("no input files")
    from llmaudit.ingest import parallel  # it builds on this module

    def ingestor_now() -> Ingestor:
        made = Ingestor(builder, forced_reader, on_progress)
        made.resume(waiting or [], joined)
        return made

    if parallel.worth_parallel(files):
        ingestor = ingestor_now()
        try:
            parallel.ingest_parallel(ingestor, files, on_progress)
            return ingestor.finish()
        except parallel.WORKER_FAILURES:
            # No room for the pieces' frames, or a worker killed: read again, in this process.
            builder.reset()
    ingestor = ingestor_now()
    for source in files:
        ingestor.read_file(source)
    return ingestor.finish()
