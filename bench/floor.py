"""The floors `bench/run.py` measures: a bare polars parse of a log, nothing else.

    python bench/floor.py LOG [--schema head|sample] [--piece-bytes N]

JSONL is parsed by polars.read_ndjson (CSV by polars.read_csv), with one of two schemas:

- head: the one read_ndjson infers by default, from the first 100 lines. Fields those lines lack
  are not parsed at all: on a log whose first lines carry no tools, the tool definitions and
  tool calls are skipped (the openai_chat 100k bench log parses 3x faster this way).
- sample: inferred from lines spread over the whole file (the first 100, then one after each of
  19,999 even offsets), so every field the log commonly carries is parsed, as llmaudit reads it. A field
  rarer than the sample can see is still skipped: this floor errs low.

Only the parse is timed (not the interpreter start, the import or the schema inference); it
is printed as ``parse_seconds``. With --piece-bytes, a file too big for one frame in memory is
parsed in consecutive pieces of about N bytes, each cut at a line end and parsed on its own
with the same schema, its frame dropped before the next.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import polars as pl

INFER_ROWS = 100
"""polars.read_ndjson's default infer_schema_length."""
SAMPLE_LINES = 20_000


def head_lines(path: str, count: int = INFER_ROWS) -> bytes:
    """The first ``count`` lines of a file."""
    with open(path, "rb") as stream:
        return _ended(b"".join(stream.readline() for _ in range(count)))


def sampled_lines(path: str, count: int = SAMPLE_LINES) -> bytes:
    """The first lines, then the line after each of ``count`` even byte offsets."""
    size = os.path.getsize(path)
    lines = [head_lines(path)]
    with open(path, "rb") as stream:
        for k in range(1, count):
            stream.seek(size * k // count)
            stream.readline()  # the rest of the line the offset fell in
            lines.append(_ended(stream.readline()))
    return b"".join(lines)


def _ended(lines: bytes) -> bytes:
    return lines if not lines or lines.endswith(b"\n") else lines + b"\n"


def schema_of(path: str, how: str) -> pl.Schema:
    """The schema the parse uses: read_ndjson's default inference (head) or one from lines across the file."""
    if how == "head":
        return pl.read_ndjson(head_lines(path)).schema
    return pl.read_ndjson(sampled_lines(path), infer_schema_length=None).schema


def leaf_fields(dtype: Any) -> int:
    """How many scalar fields a schema or type holds (nested structs and lists looked into)."""
    if isinstance(dtype, pl.Schema):
        return sum(leaf_fields(inner) for inner in dtype.values())  # type: ignore[misc]
    if isinstance(dtype, pl.Struct):
        return sum(leaf_fields(field.dtype) for field in dtype.fields)
    if isinstance(dtype, pl.List | pl.Array):
        return leaf_fields(dtype.inner)
    return 1


def parse(path: str, schema: pl.Schema, piece_bytes: int | None) -> tuple[int, int, float]:
    """(rows, pieces, seconds) of the bare parse with ``schema``."""
    started = time.perf_counter()
    if piece_bytes is None:
        return pl.read_ndjson(path, schema=schema).height, 1, time.perf_counter() - started
    rows = pieces = 0
    seconds = 0.0
    with open(path, "rb") as stream:
        while True:
            started = time.perf_counter()
            chunk = stream.read(piece_bytes)
            if not chunk:
                break
            chunk += stream.readline()  # to the end of the line the piece cut
            rows += pl.read_ndjson(chunk, schema=schema).height
            del chunk
            seconds += time.perf_counter() - started
            pieces += 1
    return rows, pieces, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--schema", choices=["head", "sample"], default="sample")
    parser.add_argument("--piece-bytes", type=int, default=None)
    args = parser.parse_args(argv)
    if args.log.endswith(".csv"):
        started = time.perf_counter()
        rows = pl.read_csv(args.log).height
        print(f"parse_seconds {time.perf_counter() - started:.3f} rows {rows} pieces 1 fields -")
        return 0
    if os.path.getsize(args.log) == 0:
        print("parse_seconds 0 rows 0 pieces 0 fields 0")
        return 0
    schema = schema_of(args.log, args.schema)
    rows, pieces, seconds = parse(args.log, schema, args.piece_bytes)
    print(f"parse_seconds {seconds:.3f} rows {rows} pieces {pieces} fields {leaf_fields(schema)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
