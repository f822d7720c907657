"""Which container a file is: JSONL, one JSON document, or CSV."""

from __future__ import annotations

import json

import pytest

from llmaudit.ingest.container import detect_kind

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
