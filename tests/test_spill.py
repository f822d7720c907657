"""Frames memory-mapped from unlinked files are the same frames, and nothing is left on disk."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmaudit import spill
from llmaudit.spill import mapped, release_pages
from llmaudit.table import TEXT_SCHEMA, TableBuilder


def texts() -> pl.DataFrame:
    values = ["plain", "", None, "naïve ☃ 日本語 \U0001f600", "x" * 100_000, "line\nbreak\x00nul"]
    return pl.DataFrame({"text_hash": [f"h{i}" for i in range(len(values))], "text": values,
                         "chars": [len(v or "") for v in values]}, schema=TEXT_SCHEMA)


def test_mapped_frame_is_equal_and_leaves_no_file(tmp_path: Path) -> None:
    frame = texts()
    back = mapped(frame, tmp_path)
    assert_frame_equal(back, frame)
    assert back is not frame
    assert list(tmp_path.iterdir()) == []  # unlinked at once: the mapping alone keeps it readable
    assert back.filter(pl.col("chars") > 1000).get_column("text").to_list() == ["x" * 100_000]


def test_unwritable_folder_keeps_the_frame_in_memory(tmp_path: Path) -> None:
    frame = texts()
    assert mapped(frame, tmp_path / "missing") is frame


@pytest.mark.parametrize("spill", [False, True])
def test_builder_texts_are_the_same_spilled_or_not(tmp_path: Path, spill: bool) -> None:
    builder = TableBuilder(chunk_rows=2, spill_dir=str(tmp_path) if spill else None)
    for text in ["a", "b", "a", "c", "d", "b", "e"]:
        builder._store_text(text)
    frame = builder.texts_frame()
    assert frame.get_column("text").to_list() == ["a", "b", "c", "d", "e"]
    assert list(tmp_path.iterdir()) == []


def _file_backed_kb() -> int | None:
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])
    except OSError:
        return None
    return int(fields["Rss"].split()[0]) - int(fields["Anonymous"].split()[0])


def test_released_pages_leave_resident_memory_and_read_the_same(tmp_path: Path) -> None:
    import gc

    frame = pl.DataFrame({"text": [f"{i:06d}" + "y" * 20_000 for i in range(2_000)]})  # 40 MB
    back = mapped(frame, tmp_path)
    assert back.get_column("text").hash().to_list() == frame.get_column("text").hash().to_list()  # every byte read
    before = _file_backed_kb()
    release_pages()
    after = _file_backed_kb()
    if before is not None and after is not None:
        assert before - after > 30_000  # the 40 MB just read are no longer resident
    assert_frame_equal(back, frame)  # and read again from the file as they were
    del back
    gc.collect()
    assert len(spill._regions) == 0  # the mapping went with the last frame reading it


def test_strings_at_reads_the_rows_asked_for_nulls_included(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "RUN_ROWS", 2)
    column = mapped(texts(), tmp_path).get_column("text")
    rows = pl.Series([4, 0, None, 2, 0, 5], dtype=pl.UInt32)
    assert list(spill.strings_at(column, rows)) == ["x" * 100_000, "plain", None, None, "plain", "line\nbreak\x00nul"]


def test_strings_at_hands_pages_back_as_it_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "RUN_ROWS", 50)
    monkeypatch.setattr(spill, "SMALL_MAPPING_BYTES", 1 << 20)  # 40 MB counts as large here
    frame = pl.DataFrame({"text": [f"{i:06d}" + "y" * 20_000 for i in range(2_000)]})  # 40 MB
    column = mapped(frame, tmp_path).get_column("text")
    release_pages()
    start = _file_backed_kb()
    if start is None:
        pytest.skip("no /proc/self/smaps_rollup here")
    most = 0
    for index, text in enumerate(spill.strings_at(column, pl.Series(range(2_000), dtype=pl.UInt32))):
        assert text == frame.item(index, 0)
        most = max(most, (_file_backed_kb() or 0) - start)
    assert most < 15_000  # never the whole 40 MB resident at once
