"""Which container a file is: JSONL, one JSON document, or CSV."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from llmaudit.ingest.container import detect_kind, iter_records
from llmaudit.ingest.records import Rejection
from llmaudit.ingest.source import SourceFile

RECORD = json.dumps({"request": {"model": "gpt-4o"}, "response": {"usage": {"prompt_tokens": 3}}}).encode()


@pytest.mark.parametrize("bad_first", [
    RECORD[:30],  # cut short
    RECORD.replace(b"gpt", b"g\xffpt"),  # invalid UTF-8
    b"{" * 100_000 + b"}" * 100_000,  # nested too deeply
])
def test_jsonl_whose_first_line_is_unreadable_is_still_jsonl(bad_first: bytes) -> None:
    head = bad_first + b"\n" + b"\n".join([RECORD] * 3) + b"\n"
    assert detect_kind(head, "export.log") == "jsonl"


def test_a_first_line_longer_than_the_head_is_jsonl_when_the_name_says_so() -> None:
    head = b'{"request": {"messages": [{"content": "' + b"x" * 300_000  # no newline within the head
    assert detect_kind(head[:262_144], "logs.jsonl.gz") == "jsonl"
    assert detect_kind(head[:262_144], "logs.ndjson") == "jsonl"
    assert detect_kind(head[:262_144], "logs.json") == "json"


def test_a_pretty_printed_document_is_one_json_document() -> None:
    document = b'{"data": [\n  {"id": 1},\n  {"id": 2},\n  {"id": 3}\n],\n"object": "list"\n}\n'
    assert detect_kind(document, "export.json") == "json"
    indented = json.dumps({"data": [{"id": 1}, {"id": 2}]}, indent=2).encode()
    assert detect_kind(indented, "export.txt") == "json"


def test_kinds_by_first_byte() -> None:
    assert detect_kind(RECORD + b"\n" + RECORD) == "jsonl"
    assert detect_kind(b"\xef\xbb\xbf  [" + RECORD + b"]") == "json"
    assert detect_kind(b"a,b\n1,2\n") == "csv"
    assert detect_kind(b" \n\t") == "empty"


def _lines(text: str) -> list[int]:
    """The line numbers a JSON document's records are read with."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.json"
        path.write_text(text)
        return [line for line, _ in iter_records(SourceFile(path.name, path), "json")]


def test_json_document_records_are_numbered_by_the_line_they_start_on() -> None:
    tricky = r'{"text": "a [bracket] and a \"quote\" {brace}: colon \\", "n": [1, {"x": 2}]}'
    assert _lines(f'[\n  {tricky},\n\n  {{"b": 2}},\n  {{\n    "c": 3\n  }}\n]\n') == [2, 4, 5]
    wrapped = f'{{"object": "list",\n "meta": [{{"m": 1}}, {{"m": 2}}],\n "data": [\n  {tricky},\n  {{"b": 2}}\n]}}'
    assert _lines(wrapped) == [4, 5]
    assert _lines('\n\n{"a": 1,\n "b": 2}\n') == [3]


def test_json_document_items_of_any_kind_are_located() -> None:
    assert _lines('[1, {"a": 1}, true]') == [1, 1, 1]
    assert _lines('[\n1,\n  {"a": 1},\n"x", true]') == [2, 3, 4, 4]


def test_an_api_page_saved_on_one_line_is_a_document(tmp_path: Path) -> None:
    """`curl .../observations > page.json` writes {"data": [...], "meta": {...}} on one line: its items are the
    records, as when the page is pretty-printed; a lone record on one line is still one JSONL record."""
    assets = Path(__file__).resolve().parents[1] / "assets"
    page = json.loads((assets / "langfuse" / "observations.json").read_text())
    compact = json.dumps(page, separators=(",", ":")).encode()
    assert detect_kind(compact + b"\n") == detect_kind(compact) == "json"
    assert detect_kind(b'{"id": 1, "data": [{"a": 1}]}\n{"id": 2, "data": []}\n') == "jsonl"  # two lines: JSONL
    assert detect_kind(b'{"model": "gpt-4o", "usage": {"prompt_tokens": 3}}\n') == "jsonl"
    path = tmp_path / "page.json"
    path.write_bytes(compact)
    records = [record for _, record in iter_records(SourceFile(path.name, path), detect_kind(compact))]
    assert records == page["data"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_with_a_byte_order_mark_read_like_utf8(encoding: str, tmp_path: Path) -> None:
    """PowerShell's `>` writes UTF-16 with a byte-order mark: the records are those of the UTF-8 file."""
    from llmaudit.ingest.source import is_compressed

    text = '{"model": "gpt-4o", "note": "naïve café ☕ 𝄞"}\r\n{"model": "gpt-4o-mini", "n": 2}\r\n'
    utf8 = tmp_path / "utf8.jsonl"
    utf8.write_text(text, encoding="utf-8")
    other = tmp_path / f"{encoding}.jsonl"
    data = text.encode(encoding)
    other.write_bytes(data if encoding != "utf-16-be" else b"\xfe\xff" + data)
    source = SourceFile(other.name, other)
    assert detect_kind(source.head()) == "jsonl"
    read = [record for _, record in iter_records(source, "jsonl")]
    assert read == [record for _, record in iter_records(SourceFile(utf8.name, utf8), "jsonl")] and len(read) == 2
    assert is_compressed(source)  # read through a decoder: never cut into byte ranges
    import gzip

    packed = tmp_path / f"{encoding}.jsonl.gz"
    packed.write_bytes(gzip.compress(other.read_bytes()))  # UTF-16 text, gzipped: the mark is inside
    assert [record for _, record in iter_records(SourceFile(packed.name, packed), "jsonl")] == read
    csv_file = tmp_path / f"{encoding}.csv"
    table = "model,input_tokens\r\nclaude-sonnet-4-5,12\r\n"
    csv_file.write_bytes(table.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + table.encode(encoding))
    assert [r for _, r in iter_records(SourceFile(csv_file.name, csv_file), "csv")] == [
        {"model": "claude-sonnet-4-5", "input_tokens": "12"}]


def test_pretty_printed_objects_one_after_another_are_records(tmp_path: Path) -> None:
    """`jq . log.jsonl > log.json` writes the records pretty-printed one after another: each is a record,
    numbered by the line it starts on; a cut last one is one rejection; objects glued on one line are records."""
    records = [{"model": "gpt-4o", "usage": {"prompt_tokens": n}} for n in (1, 2, 3)]
    pretty = "".join(json.dumps(r, indent=2) + "\n" for r in records).encode()
    path = tmp_path / "log.jsonl"  # the name says JSONL; the first line says pretty-printed
    path.write_bytes(pretty)
    assert detect_kind(pretty, path.name) == "json"
    read = list(iter_records(SourceFile(path.name, path), "json"))
    assert read == [(1, records[0]), (7, records[1]), (13, records[2])]
    path.write_bytes(pretty[:-20])
    *good, (line, cut) = iter_records(SourceFile(path.name, path), "json")
    assert good == read[:2] and line == 13
    assert isinstance(cut, Rejection) and "from line 13 to the end of the file" in cut.reason
    glued = tmp_path / "glued.jsonl"
    glued.write_text(json.dumps(records[0]) + json.dumps(records[1]) + "\n" + json.dumps(records[2]) + "\n")
    assert list(iter_records(SourceFile(glued.name, glued), "jsonl")) == [(1, records[0]), (1, records[1]), (2, records[2])]


def test_a_sequence_of_arrays_or_pages_gives_their_items_and_resumes_after_a_bad_value(tmp_path: Path) -> None:
    records = [{"model": "gpt-4o", "usage": {"prompt_tokens": n}} for n in range(4)]
    arrays = json.dumps(records[:2], indent=2) + "\n" + json.dumps(records[2:], indent=2) + "\n"
    pages = "".join(json.dumps({"data": [r], "has_more": True}, indent=2) + "\n" for r in records)
    for name, text in (("arrays.json", arrays), ("pages.json", pages)):
        path = tmp_path / name
        path.write_text(text)
        read = list(iter_records(SourceFile(name, path), detect_kind(text.encode())))
        assert [record for _, record in read] == records, name
    lines = arrays.splitlines()
    assert [line for line, _ in iter_records(SourceFile("arrays.json", tmp_path / "arrays.json"), "json")] == [
        2, lines.index("  {", 2) + 1, lines.index("[", 1) + 2, len(lines) - 6]
    broken = "\n".join(json.dumps(r, indent=2) for r in records[:2]) + '\n{\n  "model": \n}\n' \
        + "\n".join(json.dumps(r, indent=2) for r in records[2:]) + "\n"
    path = tmp_path / "broken.json"
    path.write_text(broken)
    read = list(iter_records(SourceFile(path.name, path), "json"))
    assert [r for _, r in read if isinstance(r, dict)] == records  # the records after the bad one are kept
    (bad,) = [r for _, r in read if isinstance(r, Rejection)]
    assert bad.line == 13 and "(lines 13 to 15)" in bad.reason
