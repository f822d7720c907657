"""Input files as byte streams: paths, globs, directories, stdin, gzip and zstd by magic bytes."""

from __future__ import annotations

import atexit
import codecs
import contextlib
import glob
import io
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from llmaudit.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_BUFFER = 1 << 20
"""Bytes read from a file at a time. Log lines run to many kilobytes (whole prompts): with Python's 8 KB
default, a line spans several reads that are joined again (measured: 3.5x slower line splitting)."""
UNICODE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
                (codecs.BOM_UTF16_BE, "utf-16"))
"""Byte-order marks of text that is not UTF-8 (PowerShell's ``>`` writes UTF-16): such a file is read as UTF-8.
UTF-32's come first: its little-endian mark starts with UTF-16's."""
GZIP_WBITS = 16 + zlib.MAX_WBITS
CHUNK_BYTES = 65_536


class CorruptCompression(OSError):
    """Compressed data that does not decode (a cut short file raises EOFError instead)."""


class _Converting(io.RawIOBase):
    """A byte stream made from another one chunk by chunk (`_next_output`); it ends once `_finished` is set."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._pending = memoryview(b"")
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._finished:
            self._pending = memoryview(self._next_output())
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]  # a view: no copy of what is left
        return size

    def _next_output(self) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Decompressing(_Converting):
    """A gzip or zstd file as a byte stream that gives back all it can before a cut or corruption.

    The standard gzip module raises at a cut before returning the data in front of it, and
    zstandard's stream reader ends a cut frame silently; here the data comes first, then an
    end of file, and the read after that raises EOFError for a cut or OSError for corruption
    (raising at once would make a buffered reader drop the data it holds). Concatenated
    members or frames are read one after another.
    """

    def __init__(self, raw: BinaryIO, kind: str, new_decoder: Callable[[], Any]) -> None:
        super().__init__(raw)
        self._kind, self._new_decoder = kind, new_decoder
        self._decoder = new_decoder()
        self._fed = False
        self._error: Exception | None = None

    def readinto(self, buffer: Any) -> int:
        if self._error is not None and not self._pending:
            error, self._error = self._error, None
            raise error
        return super().readinto(buffer)

    def _next_output(self) -> bytes:
        chunk = self._raw.read(CHUNK_BYTES)
        if not chunk:
            self._finished = True
            if self._fed and not self._decoder.eof:
                self._error = EOFError(f"the {self._kind} data ends before its end marker (the file was cut short)")
            return b""
        if self._decoder.eof:  # a member or frame ended exactly at a chunk boundary
            if not chunk.strip(b"\x00"):
                return b""
            self._decoder = self._new_decoder()
        try:
            out = self._decoder.decompress(chunk)
            self._fed = True
            while self._decoder.eof and self._decoder.unused_data.strip(b"\x00"):
                rest = self._decoder.unused_data
                self._decoder = self._new_decoder()
                out += self._decoder.decompress(rest)
        except (zlib.error, zstandard.ZstdError) as exc:
            self._finished = True
            self._error = CorruptCompression(f"corrupt {self._kind} data: {exc}")
            return b""
        return out


class _Transcoding(_Converting):
    """UTF-16 or UTF-32 text (with its byte-order mark) as a UTF-8 byte stream; what does not decode becomes U+FFFD."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        super().__init__(raw)
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def _next_output(self) -> bytes:
        chunk = self._raw.read(CHUNK_BYTES)
        self._finished = not chunk
        return self._decoder.decode(chunk, final=self._finished).encode("utf-8")


def unicode_encoding(magic: bytes) -> str | None:
    """utf-16 or utf-32 when the file starts with that encoding's byte-order mark; None for UTF-8 and bytes."""
    return next((encoding for bom, encoding in UNICODE_BOMS if magic.startswith(bom)), None)


@dataclass(frozen=True)
class SourceFile:
    """One input file; ``name`` is what messages show, ``path`` is what is opened."""

    name: str
    path: Path
    explicit: bool = True
    """Named on the command line (an undetectable format is an error) rather than found in a directory."""

    def open(self) -> BinaryIO:
        """Open the file decompressed, whatever its extension says.

        A compressed file cut short or corrupt yields everything that decompresses, then
        raises EOFError (cut) or OSError (corrupt), so callers can say where it broke.
        """
        with open(self.path, "rb") as probe:
            magic = probe.read(4)
        raw = open(self.path, "rb", buffering=READ_BUFFER)  # noqa: SIM115 - returned to the caller, who closes it
        stream: BinaryIO = raw
        if magic.startswith(GZIP_MAGIC):
            stream = io.BufferedReader(_Decompressing(raw, "gzip", lambda: zlib.decompressobj(GZIP_WBITS)), READ_BUFFER)  # type: ignore[assignment]
        elif magic.startswith(ZSTD_MAGIC):
            stream = io.BufferedReader(_Decompressing(raw, "zstd", lambda: zstandard.ZstdDecompressor().decompressobj()), READ_BUFFER)  # type: ignore[assignment]
        else:
            encoding = unicode_encoding(magic)
            return raw if encoding is None else io.BufferedReader(_Transcoding(raw, encoding), READ_BUFFER)  # type: ignore[return-value]
        try:
            opening = stream.peek(4)[:4]  # type: ignore[attr-defined]
        except (OSError, EOFError):
            return stream  # the reading reports it where it reads
        encoding = unicode_encoding(opening)  # UTF-16 text, compressed
        return stream if encoding is None else io.BufferedReader(_Transcoding(stream, encoding), READ_BUFFER)  # type: ignore[return-value]

    def head(self, size: int = 262_144) -> bytes:
        """The first ``size`` decompressed bytes, for format sniffing.

        A compressed file cut short still has a readable start: what decompresses is
        returned. InputError when nothing does (a bare header, corrupt data).
        """
        data = b""
        try:
            with self.open() as stream:
                data = stream.read(size)
                if len(data) < size:
                    raise_if_cut(stream)
        except (OSError, EOFError) as exc:
            if not data:
                what = "cannot decompress" if isinstance(exc, EOFError | CorruptCompression) else "cannot read"
                raise InputError(f"{self.name}: {what}: {exc}") from exc
        return data

    def size_bytes(self) -> int:
        """Size on disk (compressed), for progress reporting."""
        return self.path.stat().st_size


def _spool_stdin() -> Path:
    """Copy stdin to a private temp file so it can be sniffed and then read (by path, from any process).

    The copy holds the user's logs: it is removed when the program exits, however the run ended.
    """
    handle, name = tempfile.mkstemp(prefix="llmaudit-stdin-")
    atexit.register(_remove, name)
    with os.fdopen(handle, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    return Path(name)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


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


def raise_if_cut(stream: BinaryIO) -> None:
    """At the end of a stream, raise the error of a compressed file cut short or corrupt (EOFError, OSError).

    The decompressing stream reports the end of its data first and the error on the read
    after, so a cut exactly between records is not mistaken for the end of the file.
    """
    stream.read(1)


@dataclass
class LineTally:
    """How many lines an `iter_lines` call went through (blank and bad ones too), once it has ended."""

    lines: int = 0


def iter_lines(source: SourceFile, span: tuple[int, int] | None = None,
               tally: LineTally | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line as read: with its newline, but the last), streaming.

    ``span``: only the lines starting in bytes [start, stop) of an uncompressed file, numbered
    from 1 at ``start`` (see `line_spans_at`). ``tally``: given the number of lines, at the end.
    """
    number = 0
    if span is not None:
        start, stop = span
        with open(source.path, "rb", buffering=READ_BUFFER) as stream:
            stream.seek(start)
            position = start
            for number, line in enumerate(stream, start=1):
                if position >= stop:
                    number -= 1
                    break
                position += len(line)
                yield number, line
    else:
        with source.open() as stream:
            for number, line in enumerate(stream, start=1):
                yield number, line
            raise_if_cut(stream)
    if tally is not None:
        tally.lines = number


def is_compressed(source: SourceFile) -> bool:
    """True for a file read through a decoder (gzip, zstd, UTF-16 or UTF-32 text): it cannot be cut into byte ranges."""
    with open(source.path, "rb") as probe:
        magic = probe.read(4)
    return magic.startswith(GZIP_MAGIC) or magic.startswith(ZSTD_MAGIC) or unicode_encoding(magic) is not None


def line_spans_at(source: SourceFile, cuts: Sequence[int]) -> list[tuple[int, int]]:
    """Byte ranges [start, stop) covering an uncompressed file, cut at the first line start from each of the
    increasing offsets ``cuts`` (a cut inside the last line, or repeated, falls away)."""
    size = source.size_bytes()
    bounds = [0]
    with open(source.path, "rb") as stream:
        for cut in cuts:
            stream.seek(cut)
            stream.readline()  # to the start of the next line
            at = stream.tell()
            if bounds[-1] < at < size:
                bounds.append(at)
    bounds.append(size)
    return list(zip(bounds[:-1], bounds[1:], strict=True))
