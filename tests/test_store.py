"""The DuckDB store: upserts by id, texts once, user-only file, stores from older versions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from llmaudit.ingest.pipeline import FileSummary, IngestReport, RejectedRecord
from llmaudit.ingest.records import Message, RequestRecord
from llmaudit.store import Store
from llmaudit.table import TableBuilder, shown_id


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
    rows, _ = store.requests_and_messages()
    store.close()
    assert rows.height == 2
    served = dict(zip(map(shown_id, rows["logged_id"]), rows["served_from_cache"], strict=True))
    assert served["b"] is False


def test_store_from_an_older_version_is_read_and_priced_alone(tmp_path: Path) -> None:
    from llmaudit.pricing.costs import compute_costs
    from llmaudit.pricing.resolver import PriceResolver

    path = tmp_path / "old.duckdb"
    builder = frames("a")
    newer = ["served_from_cache", "inference_geo", "audio_input_tokens", "audio_output_tokens"]
    store = Store(path)
    store.write(builder.requests_frame().drop(newer), builder.messages_frame(), builder.texts_frame())
    store.close()
    store = Store(path)
    rows, _ = store.requests_and_messages()
    store.close()
    assert set(newer) <= set(rows.columns)
    assert compute_costs(rows, PriceResolver(), None).get_column("cost_usd").to_list() == \
        compute_costs(builder.requests_frame(), PriceResolver(), None).get_column("cost_usd").to_list()


def test_the_store_gives_back_the_frames_it_was_given(tmp_path: Path) -> None:
    builder = frames("z-last", "a-first", "m-middle")
    requests, messages = builder.requests_frame(), builder.messages_frame()
    assert requests.get_column("request_id").to_list() == [3, 1, 2]  # numbered in the order of the logged ids
    store = Store(tmp_path / "s.duckdb")
    store.write(requests, messages, builder.texts_frame())
    stored, stored_messages = store.requests_and_messages()
    store.close()
    assert stored.sort("request_id").equals(requests.sort("request_id"))
    assert stored_messages.sort("request_id", "seq").equals(messages.sort("request_id", "seq"))


def test_an_empty_store_gives_empty_frames(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    requests, messages = store.requests_and_messages()
    store.close()
    assert requests.height == messages.height == 0
    assert requests.schema == TableBuilder().requests_frame().schema
    assert messages.schema == TableBuilder().messages_frame().schema


def test_each_files_latest_read_is_kept_with_its_rejections(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    first = IngestReport(files=[FileSummary("a.jsonl", "openai_chat", 3, 2, 1, 0), FileSummary("b.csv", "litellm", 1, 1, 0, 0)],
                         rejects=[RejectedRecord("a.jsonl", 3, "invalid JSON")], rejected=1)
    store.write_report(first)
    report = store.stored_report(requests=3)
    assert (report.records_read, report.rejected, [r.line for r in report.rejects]) == (4, 1, [3])
    # a.jsonl read again, mended: its rejection goes; b.csv's read stands.
    store.write_report(IngestReport(files=[FileSummary("a.jsonl", "openai_chat", 3, 3, 0, 0)]))
    report = store.stored_report(requests=4)
    assert (report.records_read, report.rejected, report.rejects) == (4, 0, [])
    assert [f.file for f in report.files] == ["a.jsonl", "b.csv"]
    store.close()


def test_a_file_name_read_again_after_it_shrank_still_adds_up(tmp_path: Path) -> None:
    """The store keeps the requests of a longer earlier read of the same name (stdin, a rotated log): the file's
    row counts at least those records, so the rows add up to the run's reconciliation."""
    from tests.nasty.conftest import invoke_cli

    lines = (Path(__file__).parent / "assets" / "openai_chat" / "chat_logs.jsonl").read_text().splitlines()
    log, store = tmp_path / "app.jsonl", str(tmp_path / "s.duckdb")
    log.write_text("\n".join(lines[:2]) + "\n")
    assert invoke_cli([str(log)], tmp_path / "1.json", db=store).exit_code == 0
    log.write_text(lines[3] + "\n")  # rotated: one other request
    assert invoke_cli([str(log)], tmp_path / "2.json", db=store).exit_code == 0
    stored = invoke_cli([], tmp_path / "3.json", db=store).audit
    assert stored is not None
    ingest = stored["ingest"]
    (row,) = ingest["files"]
    assert (ingest["requests"], row["requests"], row["records"], ingest["records_read"]) == (3, 3, 3, 3)
    assert ingest["records_read"] == ingest["requests"] + ingest["duplicates"] + ingest["rejected"]
