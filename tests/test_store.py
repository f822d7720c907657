"""The DuckDB store: upserts by id, texts once, user-only file, stores from older versions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.store import Store
from llmaudit.table import TableBuilder


def frames(*ids: str) -> TableBuilder:
    builder = TableBuilder()
    for request_id in ids:
        builder.add(RequestRecord(source_line=1, request_id=request_id, model="gpt-4o", input_tokens=10, output_tokens=1,
                                  messages=[Message("system", "shared prompt"), Message("user", f"q {request_id}")]), "t", "f")
    return builder


def test_upsert_and_texts_once(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    for ids in (("a", "b"), ("b", "c")):
        builder = frames(*ids)
        store = Store(path)
        store.write(builder.requests_frame(), builder.messages_frame(), builder.texts_frame())
        store.close()
    store = Store(path)
    assert store.counts() == {"requests": 3, "messages": 6, "texts": 4}
    store.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_store_from_an_older_version_gains_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    builder = frames("a")
    store = Store(path)
    store.write(builder.requests_frame().drop("served_from_cache"), builder.messages_frame(), builder.texts_frame())
    store.close()
    builder = frames("b")
    store = Store(path)
    store.write(builder.requests_frame(), builder.messages_frame(), builder.texts_frame())
    rows = store.requests()
    store.close()
    assert rows.height == 2
    assert rows.filter(rows["request_id"] == "b")["served_from_cache"].to_list() == [False]
