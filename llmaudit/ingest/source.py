"""Input files as byte streams: paths, globs, directories, stdin, gzip and zstd by magic bytes."""

from __future__ import annotations

import glob
import gzip
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from llmaudit.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class SourceFile:
    """One input file; ``name`` is what messages show, ``path`` is what is opened."""

    name: str
    path: Path
    explicit: bool = True
    """Named on the command line (an undetectable format is an error) rather than found in a directory."""

    def open(self) -> BinaryIO:
        """Open the file decompressed, whatever its extension says."""
        with open(self.path, "rb") as probe:
            magic = probe.read(4)
        if magic.startswith(GZIP_MAGIC):
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        if magic.startswith(ZSTD_MAGIC):
            reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
            return io.BufferedReader(reader)  # type: ignore[arg-type, return-value]
        return raw

    def head(self, size: int = 262_144) -> bytes:
        """The first ``size`` decompressed bytes, for format sniffing."""
        try:
            with self.open() as stream:
                return stream.read(size)
        except (OSError, EOFError, zstandard.ZstdError) as exc:
            # A truncated archive still has a readable start: sniff what decompresses.
            return self._partial_head(size, exc)

    def _partial_head(self, size: int, error: Exception) -> bytes:
        data = bytearray()
        try:
            with self.open() as stream:
                while len(data) < size:
                    chunk = stream.read(4096)
                    if not chunk:
                        break
                    data.extend(chunk)
        except (OSError, EOFError, zstandard.ZstdError):
            pass
        if not data:
            raise InputError(f"{self.name}: cannot decompress: {error}") from error
        return bytes(data)

    def size_bytes(self) -> int:
        """Size on disk (compressed), for progress reporting."""
        return self.path.stat().st_size


def _spool_stdin() -> Path:
    """Copy stdin to a private temp file so it can be sniffed and then read."""
    handle, name = tempfile.mkstemp(prefix="llmaudit-stdin-")
    with os.fdopen(handle, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    return Path(name)


def _is_hidden(path: Path) -> bool:
    return any(part.startswith(".") for part in path.parts if part not in (".", ".."))


def expand_inputs(specs: list[str]) -> list[SourceFile]:
    """Turn command-line specs (paths, globs, directories, ``-``) into files, sorted within each spec."""
    files: list[SourceFile] = []
    seen: set[Path] = set()

    def add(path: Path, name: str, explicit: bool = True) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            files.append(SourceFile(name=name, path=path, explicit=explicit))

    for spec in specs:
        if spec == "-":
            add(_spool_stdin(), "<stdin>")
            continue
        path = Path(spec)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not _is_hidden(p.relative_to(path)))
            if not found:
                raise InputError(f"{spec}: directory contains no files")
            for p in found:
                add(p, str(p), explicit=False)
        elif path.is_file():
            add(path, spec)
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"{spec}: no file matches this pattern")
            for p in matches:
                add(p, str(p))
        else:
            raise InputError(f"{spec}: no such file or directory")
    return files


def iter_lines(source: SourceFile) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line without its newline), streaming."""
    with source.open() as stream:
        for number, line in enumerate(stream, start=1):
            yield number, line.rstrip(b"\r\n")
