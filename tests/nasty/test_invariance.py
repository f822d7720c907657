"""The same logs give the same money however they are read, and the same bytes every time.

A directory mixing every format (one real request per format and file kind, as the corpus
writes it, plus an overlapping re-export and files that are not logs) is read together, one
file at a time into one store and then analysed from the store, and in reverse order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.ingest.test_reused_custom_ids import BATCHES, _anthropic_lines, _input_line, _output_line
from tests.nasty import corpus
from tests.nasty.conftest import Run, invoke_cli

COMPARED = ("summary", "by_model", "by_feature", "by_user", "by_day", "by_team", "window")


def _mixed_directory(root: Path) -> list[Path]:
    """Every format in one directory (the generic reader is left out: its --map would apply to all files)."""
    files: list[Path] = []
    for variant in corpus.VARIANTS:
        if variant.args:
            continue
        files += corpus.build_case(variant, "clean", root / variant.name).files
        if variant.name == "openai_chat":
            # An overlapping re-export of the same requests: counted once.
            files += corpus.build_case(variant, "overlapping_exports", root / "reexport").files
    (root / "notes").mkdir()
    (root / "notes" / "README.txt").write_text("not a log\n")
    (root / "notes" / "empty.jsonl").write_bytes(b"")
    return sorted(files)


def _totals(run: Run) -> dict[str, Any]:
    assert run.exit_code == 0, run.output
    assert run.audit is not None
    return {name: run.audit[name] for name in COMPARED}


@pytest.mark.usefixtures("fast_levers")  # levers change no total; 30 runs must stay quick
def test_totals_do_not_depend_on_how_files_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    files = _mixed_directory(folder)
    together = invoke_cli([str(folder)], tmp_path / "together.json", db=str(tmp_path / "together.duckdb"))
    assert together.audit is not None
    ingest = together.audit["ingest"]
    assert ingest["records_read"] == ingest["requests"] + ingest["duplicates"] + ingest["rejected"]
    assert ingest["duplicates"] >= 1 and len(ingest["unrecognised_files"]) == 2
    assert {f["format"] for f in ingest["files"]} == {v.reader for v in corpus.VARIANTS if not v.args}

    reversed_order = invoke_cli([str(f) for f in reversed(files)], tmp_path / "reversed.json",
                                db=str(tmp_path / "reversed.duckdb"))

    one_store = str(tmp_path / "one-at-a-time.duckdb")
    for file in files:
        single = invoke_cli([str(file)], tmp_path / "single.json", db=one_store)
        assert single.exit_code == 0, single.output
    from_store = invoke_cli([], tmp_path / "from-store.json", db=one_store)

    expected = _totals(together)
    assert expected["summary"]["requests"] > 0
    assert _totals(reversed_order) == expected
    assert _totals(from_store) == expected
    assert from_store.audit is not None
    assert _reconciliation(from_store.audit["ingest"]) == _reconciliation(ingest)


def test_audit_json_is_byte_identical_between_runs(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    _mixed_directory(folder)
    texts = []
    for number in range(2):
        run = invoke_cli([str(folder)], tmp_path / f"audit-{number}.json", db=str(tmp_path / f"store-{number}.duckdb"))
        assert run.exit_code == 0, run.output
        data = json.loads(run.json_path.read_text(encoding="utf-8"))
        data.pop("generated_at")
        data.pop("store_path")
        texts.append(json.dumps(data, indent=2, ensure_ascii=False))
    assert texts[0] == texts[1]


def _conflicting_exports(tmp_path: Path) -> tuple[Path, Path]:
    """Two one-line exports of the same request; the second, later one completed its usage."""
    seed = corpus.load_seed(corpus.VARIANTS_BY_NAME["openai_chat"])
    early, late = seed.copy_of(1), seed.copy_of(1)
    late["response"]["usage"]["completion_tokens"] = 5000
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps(early) + "\n")
    second.write_text(json.dumps(late) + "\n")
    return first, second


@pytest.mark.usefixtures("fast_levers")
def test_conflicting_copies_of_one_request_do_not_depend_on_order(tmp_path: Path) -> None:
    """Two exports of one request that disagree (a later export completed its usage): the same copy wins every way."""
    first, second = _conflicting_exports(tmp_path)
    forward = invoke_cli([str(first), str(second)], tmp_path / "forward.json")
    backward = invoke_cli([str(second), str(first)], tmp_path / "backward.json")
    assert _totals(forward) == _totals(backward)


@pytest.mark.usefixtures("fast_levers")
def test_conflicting_copies_in_the_store_do_not_depend_on_order(tmp_path: Path) -> None:
    """The same rule holds when the two exports go into one store one at a time, in either order."""
    first, second = _conflicting_exports(tmp_path)
    totals = []
    for name, order in (("forward", (first, second)), ("backward", (second, first))):
        store = str(tmp_path / f"{name}.duckdb")
        for part in order:
            assert invoke_cli([str(part)], tmp_path / "part.json", db=store).exit_code == 0
        totals.append(_totals(invoke_cli([], tmp_path / f"{name}.json", db=store)))
    together = _totals(invoke_cli([str(first), str(second)], tmp_path / "together.json"))
    assert totals[0] == totals[1] == together


def test_the_whole_audit_from_the_store_equals_the_audit_read_directly(tmp_path: Path) -> None:
    """Every figure, levers and token calibration included, on the shipped sample logs.

    The store hands the requests back in another order than the files did; the calibration's
    least-squares fit once summed them in that order and differed in the 14th digit.
    """
    sample = Path(__file__).resolve().parents[2] / "sample_logs"
    store = str(tmp_path / "store.duckdb")
    direct = invoke_cli([str(sample)], tmp_path / "direct.json", db=store)
    stored = invoke_cli([], tmp_path / "stored.json", db=store)
    assert direct.audit is not None and stored.audit is not None, direct.output + stored.output
    different = [name for name in direct.audit if name not in ("generated_at", "ingest")
                 and direct.audit[name] != stored.audit[name]]
    assert different == []
    assert direct.audit["levers"] and direct.audit["tokenizer"]["calibration"]
    # The store remembers what was rejected, and why: an audit of it alone still says so.
    ingest, again = direct.audit["ingest"], stored.audit["ingest"]
    assert ingest["rejected"] == again["rejected"] == 3
    assert sorted(map(str, ingest["rejects"])) == sorted(map(str, again["rejects"]))
    assert sorted(f["file"] for f in again["files"]) == sorted(f["file"] for f in ingest["files"])
    # The same reconciliation: the batch halves joined and the copies met are still duplicates, not lost.
    assert _reconciliation(again) == _reconciliation(ingest)
    assert ingest["merged_halves"] > 0


def _reconciliation(ingest: dict[str, Any]) -> tuple[Any, ...]:
    """The run's counts, and each file's (in name order), which add up to them."""
    counts = tuple(ingest[name] for name in ("records_read", "requests", "duplicates", "rejected", "merged_halves"))
    files = sorted((f["file"], f["records"], f["requests"], f["rejected"]) for f in ingest["files"])
    assert sum(f[2] for f in files) == ingest["requests"] and sum(f[1] for f in files) == ingest["records_read"]
    return counts, files


SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"


@pytest.mark.usefixtures("fast_levers")
@pytest.mark.parametrize("inputs", [
    ["nightly_batch_input.jsonl"], ["nightly_batch_output.jsonl"], ["nightly_batch_input.jsonl", "nightly_batch_output.jsonl"],
    ["."],
], ids=["batch-input-alone", "batch-output-alone", "batch-both", "all"])
def test_the_files_add_up_to_the_run(inputs: list[str], tmp_path: Path) -> None:
    """Each file's records, requests and rejections sum to the run's, batch halves joined or left alone included."""
    run = invoke_cli([str(SAMPLE_LOGS / name) for name in inputs], tmp_path / "audit.json")
    assert run.exit_code == 0 and run.audit is not None, run.output
    ingest = run.audit["ingest"]
    for per_file, total in (("records", "records_read"), ("requests", "requests"), ("rejected", "rejected")):
        assert sum(f[per_file] for f in ingest["files"]) == ingest[total], (per_file, ingest["files"], ingest[total])


@pytest.mark.parametrize("order", [("input", "output"), ("output", "input")])
def test_batch_halves_read_in_separate_runs_are_joined_in_the_store(order: tuple[str, str], tmp_path: Path) -> None:
    """A batch input file read tonight and its output file tomorrow (or the other way round) into one store:
    the store's audit is the audit of reading both together, prompts and levers included, nothing rejected."""
    store = str(tmp_path / "store.duckdb")
    for part in order:
        assert invoke_cli([str(SAMPLE_LOGS / f"nightly_batch_{part}.jsonl")], tmp_path / f"{part}.json", db=store).exit_code == 0
    stored = invoke_cli([], tmp_path / "stored.json", db=store)
    together = invoke_cli([str(SAMPLE_LOGS / f"nightly_batch_{part}.jsonl") for part in order], tmp_path / "together.json")
    assert stored.audit is not None and together.audit is not None
    different = [name for name in together.audit if name not in ("generated_at", "ingest", "store_path")
                 and stored.audit[name] != together.audit[name]]
    assert different == []
    # The prompts are attributed (with the outputs alone, all input would be "unlogged").
    assert stored.audit["attribution"]["system"]["tokens"] > 0 and stored.audit["summary"]["requests"] == 210
    ingest = stored.audit["ingest"]
    assert (ingest["requests"], ingest["rejected"], ingest["rejects"]) == (210, 0, [])


@pytest.mark.parametrize("again", ["input", "output"])
def test_a_batch_file_read_again_after_its_requests_were_joined_is_a_duplicate(again: str, tmp_path: Path) -> None:
    """Input and output joined in one run; a later run reads one of them again into the store: its lines are
    copies of stored requests, neither rejected (an input without output) nor priced again without a prompt."""
    store = str(tmp_path / "store.duckdb")
    both = [str(SAMPLE_LOGS / f"nightly_batch_{part}.jsonl") for part in ("input", "output")]
    first = invoke_cli(both, tmp_path / "first.json", db=store)
    assert first.exit_code == 0 and first.audit is not None, first.output
    rerun = invoke_cli([str(SAMPLE_LOGS / f"nightly_batch_{again}.jsonl")], tmp_path / "rerun.json", db=store)
    assert rerun.exit_code == 0 and rerun.audit is not None, rerun.output
    ingest = rerun.audit["ingest"]
    assert (ingest["records_read"], ingest["requests"], ingest["duplicates"], ingest["rejected"]) == (210, 0, 210, 0)
    stored = invoke_cli([], tmp_path / "stored.json", db=store)
    assert stored.audit is not None
    assert (stored.audit["ingest"]["requests"], stored.audit["ingest"]["rejected"]) == (210, 0)
    assert stored.audit["summary"] == first.audit["summary"]
    assert stored.audit["attribution"] == first.audit["attribution"]


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("order", [("results", "requests"), ("requests", "results")])
def test_a_failed_batch_result_read_before_its_request_is_one_request(order: tuple[str, str], tmp_path: Path) -> None:
    """A failed Anthropic result priced alone, then joined to its request in a later run: one failed request
    in the store (its id is local, with its prompt: the joined request replaces the one priced alone)."""
    requests, results = _anthropic_lines("a", ("Name a colour.", "Name a fruit."))
    files = {"requests": _write(tmp_path / "requests.jsonl", requests), "results": _write(tmp_path / "results.jsonl", results)}
    store = str(tmp_path / "store.duckdb")
    for part in order:
        assert invoke_cli([files[part]], tmp_path / f"{part}.json", db=store).exit_code == 0
    stored = invoke_cli([], tmp_path / "stored.json", db=store)
    together = invoke_cli([files[part] for part in order], tmp_path / "together.json")
    assert stored.audit is not None and together.audit is not None
    for audit in (stored.audit, together.audit):
        assert (audit["summary"]["requests"], audit["summary"]["failed_requests"], audit["ingest"]["rejected"]) == (2, 1, 0)


def test_a_failed_result_in_two_overlapping_downloads_is_one_request(tmp_path: Path) -> None:
    requests, results = _anthropic_lines("a", ("Name a colour.", "Name a fruit."))
    lines = results.splitlines(keepends=True)
    files = [_write(tmp_path / "requests.jsonl", requests), _write(tmp_path / "part1.jsonl", "".join(lines)),
             _write(tmp_path / "part2.jsonl", lines[1] + lines[1])]  # the failure again, at other lines
    run = invoke_cli(files, tmp_path / "audit.json")
    assert run.audit is not None
    assert (run.audit["summary"]["requests"], run.audit["summary"]["failed_requests"]) == (2, 1)


def _requests_without_prompt(store: str) -> int:
    with duckdb.connect(store, read_only=True) as db:
        row = db.execute("SELECT count(*) FROM requests r WHERE NOT EXISTS "
                         "(SELECT 1 FROM messages m WHERE m.request_id = r.request_id)").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("order", [("a_in", "a_out", "b_in", "b_out"), ("a_in", "b_in", "a_out", "b_out"),
                                   ("a_in", "b_in", "b_out", "a_out")])
def test_two_batches_of_one_input_file_read_one_at_a_time_keep_their_prompts(order: tuple[str, ...],
                                                                             tmp_path: Path) -> None:
    """A nightly job submits the same input file twice: read file by file into a store, the second input is
    counted as a copy but waits for its own outputs, which get their prompts; no input is left rejected."""
    prompt, tokens = BATCHES["short"]
    files = {}
    for night in ("a", "b"):
        files[f"{night}_in"] = _write(tmp_path / f"{night}_in.jsonl",
                                      "".join(_input_line(i, prompt) + "\n" for i in ("request-1", "request-2")))
        files[f"{night}_out"] = _write(tmp_path / f"{night}_out.jsonl", "".join(
            _output_line(f"night{night}", i, tokens) + "\n" for i in ("request-1", "request-2")))
    store = str(tmp_path / "store.duckdb")
    for name in order:
        assert invoke_cli([files[name]], tmp_path / f"{name}.json", db=store).exit_code == 0
    stored = invoke_cli([], tmp_path / "stored.json", db=store)
    assert stored.audit is not None
    assert (stored.audit["summary"]["requests"], stored.audit["ingest"]["rejected"]) == (4, 0)
    assert _requests_without_prompt(store) == 0


def test_an_input_file_copied_to_another_path_before_its_outputs_leaves_no_rejection(tmp_path: Path) -> None:
    prompt, tokens = BATCHES["short"]
    inputs = "".join(_input_line(i, prompt) + "\n" for i in ("request-1", "request-2"))
    files = [_write(tmp_path / "in.jsonl", inputs), _write(tmp_path / "in_copy.jsonl", inputs),
             _write(tmp_path / "out.jsonl", "".join(_output_line("a", i, tokens) + "\n" for i in ("request-1", "request-2")))]
    store = str(tmp_path / "store.duckdb")
    for file in files:
        assert invoke_cli([file], tmp_path / "one.json", db=store).exit_code == 0
    stored = invoke_cli([], tmp_path / "stored.json", db=store)
    assert stored.audit is not None
    assert (stored.audit["summary"]["requests"], stored.audit["ingest"]["rejected"], stored.audit["ingest"]["rejects"]) == (
        2, 0, [])
