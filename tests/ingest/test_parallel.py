"""Reading on several cores gives what reading one file after another gives: frames, counts, line numbers.

Every corpus variant and case is ingested twice: in one process, and by worker processes with
the thresholds forced down so that every JSONL file is cut into pieces of a few hundred bytes
(several records per piece, duplicates and batch halves across pieces, a cut last line in the
last piece).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from llmaudit.errors import InputError
from llmaudit.ingest import parallel
from llmaudit.ingest.pipeline import Ingestor, IngestReport, ingest_files
from llmaudit.ingest.source import SourceFile, line_spans_at
from llmaudit.table import TableBuilder
from tests.nasty import corpus

CASES = ("clean", "truncated_last_line", "bom", "crlf", "nul_byte", "invalid_utf8", "wrong_types",
         "missing_usage", "negative_tokens", "timestamps", "overlapping_exports", "gzip_truncated")


def _ingest(files: list[Path], *, pieces: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[IngestReport, TableBuilder]:
    with monkeypatch.context() as patch:
        patch.setattr(parallel, "PARALLEL_MIN_BYTES", 0 if pieces else 10**18)
        patch.setattr(parallel, "PIECE_BYTES", 700)
        patch.setattr(parallel, "cores", lambda: 2)
        builder = TableBuilder(("feature",), ("user",), ("team",))
        report = ingest_files([SourceFile(str(path), path) for path in files], builder)
    return report, builder


def _frames(builder: TableBuilder) -> list[pl.DataFrame]:
    return [builder.requests_frame().sort("request_id"), builder.messages_frame().sort("request_id", "seq"),
            builder.texts_frame().sort("text_hash")]


@pytest.mark.parametrize("variant", [v for v in corpus.VARIANTS if not v.args], ids=lambda v: v.name)
def test_pieces_read_like_one_process(variant: corpus.Variant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CASES:
        if not corpus.applicable(variant, name):
            continue
        files = corpus.build_case(variant, name, tmp_path / name).files
        try:
            alone, alone_builder = _ingest(files, pieces=False, monkeypatch=monkeypatch)
        except InputError as error:  # a file that cannot be read at all: the same error either way
            with pytest.raises(InputError, match=re.escape(str(error))):
                _ingest(files, pieces=True, monkeypatch=monkeypatch)
            continue
        split, split_builder = _ingest(files, pieces=True, monkeypatch=monkeypatch)
        assert split.balanced, name
        for field in ("records_read", "requests", "duplicates", "rejected", "skipped", "skipped_reasons",
                      "files", "unrecognised_files"):
            assert getattr(split, field) == getattr(alone, field), (name, field)
        assert sorted(split.rejects, key=str) == sorted(alone.rejects, key=str), name
        for mine, theirs in zip(_frames(split_builder), _frames(alone_builder), strict=True):
            assert mine.equals(theirs), name


def test_a_big_file_is_really_cut(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = [b'{"n": %d}\n' % n if n % 97 else b"\r\n" for n in range(1000)]  # blank lines are lines too
    path.write_bytes(b"".join(lines) + b'{"last": true}')
    source = SourceFile(str(path), path)
    size = path.stat().st_size
    spans = line_spans_at(source, [size * piece // 7 for piece in range(1, 7)])
    assert len(spans) == 7 and spans[0][0] == 0 and spans[-1][1] == path.stat().st_size
    assert all(stop == start for (_, stop), (start, _) in zip(spans, spans[1:], strict=False))
    data = path.read_bytes()
    assert all(start == 0 or data[start - 1:start] == b"\n" for start, _ in spans)
    from llmaudit.ingest.source import LineTally, iter_lines

    tallies = [LineTally() for _ in spans]
    read = [[line for _, line in iter_lines(source, span, tally)] for span, tally in zip(spans, tallies, strict=True)]
    assert [line for piece in read for line in piece] == [*lines, b'{"last": true}']  # as read, newlines kept
    assert [tally.lines for tally in tallies] == [len(piece) for piece in read]
    whole = LineTally()
    assert sum(1 for _ in iter_lines(source, None, whole)) == whole.lines == 1001


def test_pieces_shrink_towards_the_end_of_the_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each piece is about 1/workers of the input left after it, capped and floored, across files; the cut files
    read as one process reads them."""
    def line(n: int) -> bytes:
        return json.dumps({
            "timestamp": f"2026-11-01T10:{n // 60:02d}:{n % 60:02d}Z", "status_code": 200,
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {n:04d}"}]},
            "response": {"id": f"chatcmpl-{n:06d}-0000000001", "object": "chat.completion", "model": "gpt-4o-mini",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {n:04d}"},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}},
        }).encode() + b"\n"

    logs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    logs[0].write_bytes(b"".join(line(n) for n in range(300)))
    logs[1].write_bytes(b"".join(line(n) for n in range(300, 400)))
    longest = max(len(line(n)) for n in range(400))
    sources = [SourceFile(str(path), path) for path in logs]
    total = sum(source.size_bytes() for source in sources)
    monkeypatch.setattr(parallel, "PIECE_BYTES", total // 8)
    monkeypatch.setattr(parallel, "MIN_PIECE_BYTES", total // 80)
    pieces = parallel.plan(Ingestor(TableBuilder()), sources, 2)
    sizes = [(piece.source.name, piece.span[1] - piece.span[0]) for piece in pieces if piece.span is not None]
    assert len(sizes) == len(pieces) > 8
    for name, source in zip(("a", "b"), sources, strict=True):
        mine = [size for file, size in sizes if file.endswith(f"{name}.jsonl")]
        assert sum(mine) == source.size_bytes()
        assert all(later <= earlier + longest for earlier, later in zip(mine[:-1], mine[1:-1], strict=False))
    assert max(size for _, size in sizes) <= total // 8 + longest
    assert sizes[-2][1] < total // 8 // 2  # the end of the input in small pieces
    alone, alone_builder = _ingest(logs, pieces=False, monkeypatch=monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
        patch.setattr(parallel, "cores", lambda: 2)
        split_builder = TableBuilder(("feature",), ("user",), ("team",))
        split = ingest_files(sources, split_builder)
    assert (split.records_read, split.requests, split.duplicates, split.files) == \
        (alone.records_read, alone.requests, alone.duplicates, alone.files)
    for mine_frame, theirs in zip(_frames(split_builder), _frames(alone_builder), strict=True):
        assert mine_frame.equals(theirs)


def test_line_numbers_of_later_pieces_are_the_file_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = corpus.load_seed(corpus.VARIANTS_BY_NAME["openai_chat"])
    files = corpus.CASES["truncated_last_line"](seed, tmp_path).files
    report, builder = _ingest(files, pieces=True, monkeypatch=monkeypatch)
    total = sum(count for count in (len(p.read_bytes().splitlines()) for p in files))
    assert [reject.line for reject in report.rejects] == [total]
    lines = builder.requests_frame().get_column("source_line").to_list()
    assert sorted(lines) == list(range(1, total))


def test_real_batch_files_are_read_in_one_process(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which of two same-key halves meets an output depends on reading order: batch inputs are not split."""
    folder = shared_data / "openai_batch"
    files = [folder / "batch-output-expansion.jsonl", folder / "batch-input-expansion.jsonl"]
    alone, alone_builder = _ingest(files, pieces=False, monkeypatch=monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(parallel, "ProcessPoolExecutor", None)  # any worker would fail the test
        split, split_builder = _ingest(files, pieces=True, monkeypatch=monkeypatch)
    assert (split.records_read, split.requests, split.duplicates, split.rejected) == (1316, 658, 658, 0)
    assert (alone.records_read, alone.requests, alone.duplicates, alone.rejected) == (1316, 658, 658, 0)
    assert split.files == alone.files
    for mine, theirs in zip(_frames(split_builder), _frames(alone_builder), strict=True):
        assert mine.equals(theirs)


def test_a_worse_copy_in_a_later_piece_adds_no_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One process never stores the texts of a copy worse than one already kept; a later piece cannot know."""
    lines = []
    for n, (prompt, tokens) in enumerate([("hello", 50), ("filler one", 10), ("filler two", 10), ("another prompt", 5)]):
        lines.append(json.dumps({
            "timestamp": f"2026-11-0{n + 1}T10:00:00Z", "status_code": 200,
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]},
            "response": {"id": "chatcmpl-r1-0000001" if n in (0, 3) else f"chatcmpl-r{n + 10}-0000001", "object": "chat.completion", "model": "gpt-4o-mini",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {n}"},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": tokens, "completion_tokens": 3, "total_tokens": tokens + 3}},
        }))
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(lines) + "\n")
    alone, alone_builder = _ingest([log], pieces=False, monkeypatch=monkeypatch)
    split, split_builder = _ingest([log], pieces=True, monkeypatch=monkeypatch)
    assert (split.requests, split.duplicates) == (alone.requests, alone.duplicates) == (3, 1)
    texts = [frame.get_column("text").to_list() for frame in (alone_builder.texts_frame(), split_builder.texts_frame())]
    assert "another prompt" not in texts[0] and sorted(texts[0]) == sorted(texts[1])


def test_a_script_without_a_main_guard_is_read_in_one_process(tmp_path: Path) -> None:
    log = corpus.build_case(corpus.VARIANTS_BY_NAME["openai_chat"], "clean", tmp_path / "c").files[0]
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from llmaudit.ingest import parallel\n"
        "parallel.PARALLEL_MIN_BYTES = 0\n"
        "from llmaudit.ingest.pipeline import ingest_files\n"
        "from llmaudit.ingest.source import expand_inputs\n"
        "from llmaudit.table import TableBuilder\n"
        f"print(parallel.worth_parallel(expand_inputs([{str(log)!r}])), "
        f"ingest_files(expand_inputs([{str(log)!r}]), TableBuilder()).requests)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "False" and int(done.stdout.split()[1]) > 0


def test_the_whole_audit_is_the_same_on_both_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """audit.json from worker processes (pieces, token counting beside the levers) = from one process."""
    import gzip

    from llmaudit.tokens import counting
    from tests.nasty.conftest import invoke_cli

    samples = Path(__file__).resolve().parents[2] / "sample_logs"
    plain = tmp_path / "openai_proxy.jsonl"  # uncompressed: cut into pieces
    plain.write_bytes(gzip.decompress((samples / "openai_proxy.jsonl.gz").read_bytes()))
    inputs = [str(plain), str(samples / "anthropic_messages.jsonl.gz"), str(samples / "litellm_spend_logs.csv.gz")]
    audits, absorbed = [], []
    real_close = parallel._Absorber.close
    monkeypatch.setattr(parallel._Absorber, "close", lambda self: absorbed.append(self.absorbed) or real_close(self))
    for workers in (False, True):
        with monkeypatch.context() as patch:
            patch.setattr(parallel, "PARALLEL_MIN_BYTES", 0 if workers else 10**18)
            patch.setattr(parallel, "PIECE_BYTES", 400_000)
            patch.setattr(counting, "PARALLEL_MIN_CHARS", 0 if workers else 10**18)
            run = invoke_cli(inputs, tmp_path / f"audit-{workers}.json")
        assert run.exit_code in (0, 1), run.output
        assert run.audit is not None
        run.audit.pop("generated_at")
        audits.append(json.dumps(run.audit, sort_keys=True))
    assert audits[0] == audits[1]
    assert absorbed and absorbed[0] > 3  # the worker path ran, with the plain file in several pieces


def test_failed_workers_fall_back_to_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full temp folder or a killed worker is no reason to fail: the files are read again here."""
    files = corpus.build_case(corpus.VARIANTS_BY_NAME["openai_chat"], "truncated_last_line", tmp_path).files
    alone, alone_builder = _ingest(files, pieces=False, monkeypatch=monkeypatch)

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(parallel._Absorber, "add", full_disk)
    again, again_builder = _ingest(files, pieces=True, monkeypatch=monkeypatch)
    assert (again.records_read, again.requests, again.duplicates, again.rejected, again.rejects, again.files) == \
        (alone.records_read, alone.requests, alone.duplicates, alone.rejected, alone.rejects, alone.files)
    for mine, theirs in zip(_frames(again_builder), _frames(alone_builder), strict=True):
        assert mine.equals(theirs)


def test_halves_met_in_a_worker_send_the_files_to_one_process(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that logs request halves without saying so: its pieces give up, the files are read here."""
    from llmaudit.ingest.openai_batch import OpenAIBatchReader

    folder = shared_data / "openai_batch"
    files = [folder / "batch-output-expansion.jsonl", folder / "batch-input-expansion.jsonl"]
    alone, alone_builder = _ingest(files, pieces=False, monkeypatch=monkeypatch)
    gave_up: list[BaseException] = []
    real_reset = TableBuilder.reset
    monkeypatch.setattr(OpenAIBatchReader, "joins_halves", False)
    monkeypatch.setattr(TableBuilder, "reset", lambda self: gave_up.append(sys.exc_info()[1]) or real_reset(self))
    split, split_builder = _ingest(files, pieces=True, monkeypatch=monkeypatch)
    assert len(gave_up) == 1 and isinstance(gave_up[0], parallel.HalvesInPiece)
    assert (split.records_read, split.requests, split.duplicates, split.rejected) == (1316, 658, 658, 0)
    assert split.files == alone.files
    for mine, theirs in zip(_frames(split_builder), _frames(alone_builder), strict=True):
        assert mine.equals(theirs)
