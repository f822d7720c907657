"""The reader contract: every log format is one module with one `Reader` subclass.

A reader never opens files. The container layer (JSONL, JSON document, CSV) hands it
numbered dict records; the reader says whether a sample looks like its format
(`sniff`) and turns the records into canonical `RequestRecord`s (`parse`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

from llmaudit.ingest.container import Sample
from llmaudit.ingest.records import Parsed

RawRecords = Iterator[tuple[int, dict[str, Any]]]
PARTIAL_CONFIDENCE = 60


def share_confidence(hits: int, sampled: int, full: int) -> int:
    """A sniff's confidence from how many sampled records look like the format: ``full`` when all do;
    `PARTIAL_CONFIDENCE` when at least half do (the others are bad records of the same file, each rejected
    with its reason when read: two records, one broken, must not hide the good one); 0 below half."""
    if sampled and hits == sampled:
        return full
    return PARTIAL_CONFIDENCE if hits and hits * 2 >= sampled else 0


class Reader(ABC):
    """One log format."""

    name: ClassVar[str]
    """Short id used in `source_format` and `--format`."""
    description: ClassVar[str]
    """One line for `llmaudit formats`."""
    containers: ClassVar[tuple[str, ...]]
    """Which containers the format comes in: jsonl, json, csv."""
    fields: ClassVar[tuple[str, ...]]
    """Canonical columns this format can fill (for `llmaudit formats`)."""
    independent_records: ClassVar[bool] = False
    """True when `parse` keeps nothing from one record to the next (no session, no de-duplication
    state): a big file may then be cut at line boundaries and its pieces parsed on several cores
    (unless it `joins_halves`)."""
    joins_halves: ClassVar[bool] = False
    """True when the format logs one request in two halves (``join_key``: batch input and output
    lines): such inputs are read in one process, where every half meets its other half in order."""

    @abstractmethod
    def sniff(self, sample: Sample) -> int:
        """Confidence 0-100 that the sampled file is in this format (0 = certainly not)."""

    @abstractmethod
    def parse(self, records: RawRecords) -> Iterator[Parsed]:
        """Turn numbered records into requests, rejections (with a reason) and skipped lines.

        Must never raise on bad content: a record that cannot be used is a `Rejection`.
        Every record received must produce at least one output, unless it is merged into
        another request (then the merge is counted as a duplicate by the caller).
        """
