"""Every reader x every nasty input, through the real CLI: no traceback, clear rejections, the books balance.

The matrix is `corpus.VARIANTS` (one real request per format and file kind) x `corpus.CASES`
(each case's docstring-like note says what the decided outcome is). File-level failures
(an empty or undecodable file named on the command line) are exit 2 with one line; they do
not depend on the reader and are tested once below.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from tests.nasty import corpus
from tests.nasty.conftest import assert_clean_run, assert_one_line_error, invoke_cli

MATRIX = [
    pytest.param(variant.name, name, id=f"{variant.name}-{name}")
    for variant in corpus.VARIANTS
    for name in corpus.CASES
    if corpus.applicable(variant, name)
]


@pytest.mark.usefixtures("fast_levers")
@pytest.mark.parametrize(("variant_name", "case_name"), MATRIX)
def test_nasty_input(variant_name: str, case_name: str, tmp_path: Path) -> None:
    variant = corpus.VARIANTS_BY_NAME[variant_name]
    built = corpus.build_case(variant, case_name, tmp_path / "in")
    run = invoke_cli([*map(str, built.files), *built.args], tmp_path / "audit.json")
    expect = built.expect
    if expect.exit_code == 2:
        assert expect.message is not None
        assert_one_line_error(run, built.files[0], expect.message)
        return
    ingest = assert_clean_run(run, built.files)
    assert run.audit is not None
    assert {f["format"] for f in ingest["files"]} == {variant.reader}, ingest["files"]
    assert sorted(f["file"] for f in ingest["files"]) == sorted(map(str, built.files))
    summary = {k: ingest[k] for k in ("records_read", "requests", "duplicates", "rejected")}
    rejects = ingest["rejects"]
    if expect.requests is not None:
        assert ingest["requests"] == expect.requests, (summary, rejects)
    if expect.rejected is not None:
        assert ingest["rejected"] == expect.rejected, (summary, rejects)
    if expect.duplicates is not None:
        assert ingest["duplicates"] == expect.duplicates, summary
    if expect.reject_lines is not None:
        assert sorted(r["line"] for r in rejects) == sorted(expect.reject_lines), rejects
    if expect.reason_contains:
        for reject in rejects:
            reason = reject["reason"].lower()
            assert any(word in reason for word in expect.reason_contains), reject
    if expect.message is not None:
        assert any(expect.message in r["reason"] for r in rejects), rejects
    if expect.either_accept_or_reject:
        assert ingest["requests"] >= 1, (summary, rejects)
    if expect.window is not None:
        assert run.audit["window"]["start"] == expect.window, run.audit["window"]
        assert run.audit["window"]["end"] == expect.window, run.audit["window"]
    # Whatever was kept is priced or visibly not: money never silently wrong.
    summary_out = run.audit["summary"]
    assert summary_out["requests"] >= 0 and summary_out["cost_usd"] >= 0


FILE_LEVEL = {
    # name: (bytes, text the one-line error must contain)
    "empty.jsonl": (b"", "the file is empty"),
    "blank.csv": (b"\n\r\n   \n", "the file is empty"),
    "bom_only.jsonl": (b"\xef\xbb\xbf", "the file is empty"),
    "empty.jsonl.gz": (gzip.compress(b"", mtime=0), "the file is empty"),
    "header_only.jsonl.gz": (gzip.compress(b'{"a": 1}\n' * 100, mtime=0)[:10], "cannot decompress"),
    "cut_block.jsonl.zst": (zstandard.ZstdCompressor().compress(b'{"a": 1}\n' * 100)[:-6], "cannot decompress"),
    "corrupt.jsonl.gz": (b"\x1f\x8b\x09" + gzip.compress(b'{"a": 1}\n' * 100, mtime=0)[3:], "cannot decompress"),
    "garbage.bin": (bytes(range(256)) * 4, "cannot detect the log format"),
    "not_a_log.jsonl": (b'{"hello": "world"}\n', "cannot detect the log format"),
    "empty_array.json": (b"[]", "cannot detect the log format"),
}


@pytest.mark.usefixtures("fast_levers")
@pytest.mark.parametrize("name", sorted(FILE_LEVEL))
def test_file_level_failure_is_one_line_exit_2(name: str, tmp_path: Path) -> None:
    """A file named on the command line that holds no readable log: exit 2, one line naming it."""
    data, message = FILE_LEVEL[name]
    path = tmp_path / name
    path.write_bytes(data)
    run = invoke_cli([str(path)], tmp_path / "audit.json")
    assert_one_line_error(run, path, message)
    assert run.audit is None


@pytest.mark.usefixtures("fast_levers")
def test_unreadable_files_in_a_directory_are_listed_not_fatal(tmp_path: Path) -> None:
    """Found in a directory, the same files are listed as not read; the logs beside them are analysed."""
    folder = tmp_path / "logs"
    folder.mkdir()
    for name, (data, _) in FILE_LEVEL.items():
        (folder / name).write_bytes(data)
    built = corpus.build_case(corpus.VARIANTS_BY_NAME["openai_chat"], "clean", folder)
    run = invoke_cli([str(folder)], tmp_path / "audit.json")
    assert run.exit_code == 0, run.output
    assert run.audit is not None
    ingest = run.audit["ingest"]
    assert ingest["requests"] == corpus.COPIES and [f["file"] for f in ingest["files"]] == [str(built.files[0])]
    unread = {Path(u["file"]).name: u["reason"] for u in ingest["unrecognised_files"]}
    assert set(unread) == set(FILE_LEVEL)
    for name, (_, message) in FILE_LEVEL.items():
        assert message in unread[name]


@pytest.mark.usefixtures("fast_levers")
def test_unread_files_are_named_in_the_html_and_the_markdown(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "people.csv").write_text("name,age\nada,36\n")
    (folder / "picture.png").write_bytes(bytes(range(256)))
    corpus.build_case(corpus.VARIANTS_BY_NAME["openai_chat"], "clean", folder)
    html, markdown = tmp_path / "r.html", tmp_path / "s.md"
    run = invoke_cli([str(folder), "--html", str(html), "--md", str(markdown)], tmp_path / "audit.json")
    assert run.exit_code == 0, run.output
    for text in (html.read_text(encoding="utf-8"), markdown.read_text(encoding="utf-8")):
        assert "people.csv" in text and "picture.png" in text


@pytest.mark.usefixtures("fast_levers")
def test_a_directory_with_no_readable_log_is_an_error(tmp_path: Path) -> None:
    """Files found, none a log: exit 2 naming why, not an audit of nothing that looks like $0 spent."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "picture.png").write_bytes(bytes(range(256)))
    run = invoke_cli([str(folder)], tmp_path / "audit.json")
    assert run.exit_code == 2 and run.audit is None, run.output
    assert "no log was read" in run.output and "Traceback" not in run.output


@pytest.mark.usefixtures("fast_levers")
@pytest.mark.parametrize("variant", [v for v in corpus.VARIANTS if v.container == "csv"], ids=lambda v: v.name)
def test_csv_header_only(variant: corpus.Variant, tmp_path: Path) -> None:
    """A CSV export of an empty period (its header alone) is a valid file with no requests.

    Except a CloudWatch export: its columns (@timestamp, @message) say nothing about what was
    logged, so with no row there is nothing to detect Bedrock from: exit 2, one line.
    """
    seed = corpus.load_seed(variant)
    data, _ = corpus.serialise(seed, [])
    path = tmp_path / "header.csv"
    path.write_bytes(data)
    run = invoke_cli([str(path), *variant.args], tmp_path / "audit.json")
    if variant.reader == "bedrock":
        assert_one_line_error(run, path, "cannot detect the log format")
        return
    ingest = assert_clean_run(run, [path])
    assert (ingest["records_read"], ingest["requests"]) == (0, 0)
    assert run.audit is not None and run.audit["summary"]["requests"] == 0


def test_every_nasty_file_at_once_with_levers(tmp_path: Path) -> None:
    """All the corpus's readable files in one run, levers included: they must survive every nasty input too."""
    files: list[Path] = []
    for variant in corpus.VARIANTS:
        if variant.args:
            continue  # the generic reader needs --map, which would force it on every file
        for name in corpus.CASES:
            if corpus.applicable(variant, name) and name != "huge_line":
                built = corpus.build_case(variant, name, tmp_path / "in" / variant.name / name)
                if built.expect.exit_code == 0:  # a file-level failure would stop the run, by design
                    files += built.files
    run = invoke_cli([str(f) for f in files], tmp_path / "audit.json")
    ingest = assert_clean_run(run, files)
    assert len(ingest["files"]) == len(files)
    assert run.audit is not None and run.audit["levers"], "levers ran"


ODD_PARAMETERS = {
    # variant: [(path, value)...] of request parameters that describe a call without changing its bill
    "openai_chat": [(("request", "seed"), 2**40), (("request", "max_tokens"), 2**32)],
    "anthropic_messages": [(("request", "max_tokens"), "unlimited")],
    "gemini": [(("request", "generationConfig", "seed"), -(2**70)), (("request", "generationConfig", "maxOutputTokens"), 1.5)],
    "litellm_payload": [(("model_parameters", "seed"), 2**63), (("model_parameters", "max_tokens"), True)],
    "langfuse.json": [(("modelParameters", "seed"), "random"), (("modelParameters", "max_tokens"), "1e400")],
}


@pytest.mark.usefixtures("fast_levers")
@pytest.mark.parametrize("variant_name", sorted(ODD_PARAMETERS))
def test_odd_request_parameters_never_reject_a_priced_request(variant_name: str, tmp_path: Path) -> None:
    """A 64-bit seed or an "unlimited" max_tokens is dropped, not a reason to lose the request's cost."""
    variant = corpus.VARIANTS_BY_NAME[variant_name]
    seed = corpus.load_seed(variant)
    records = corpus.copies(seed)
    for path, value in ODD_PARAMETERS[variant_name]:
        corpus.set_field(records[-1], path, value)
    data, _ = corpus.serialise(seed, records)
    path = tmp_path / corpus.file_name(seed, "params")
    path.write_bytes(data)
    run = invoke_cli([str(path)], tmp_path / "audit.json")
    ingest = assert_clean_run(run, [path])
    assert (ingest["requests"], ingest["rejected"]) == (corpus.COPIES, 0), ingest["rejects"]
