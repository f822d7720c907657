"""The analyze command end to end: contract keys, exit codes, inputs, store, determinism."""

from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import zstandard
from typer.testing import CliRunner

from llmaudit.cli import app

CONTRACT = {
    "schema_version", "window", "ingest", "summary", "by_model", "by_feature", "by_user", "by_day", "pricing",
}
SUMMARY_KEYS = {
    "requests", "cost_usd", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens", "failed_requests", "cost_per_successful_request_usd", "monthly_run_rate_usd",
}


def batch_lines(shared_data: Path, count: int) -> list[str]:
    return (shared_data / "openai_batch" / "batch-output-expansion.jsonl").read_text().splitlines()[:count]


def test_contract_keys(shared_data: Path, run_cli) -> None:
    code, output, data = run_cli(str(shared_data / "openai_batch" / "batch-output-expansion.jsonl"))
    assert code == 0, output
    assert data is not None
    assert CONTRACT <= set(data)
    assert data["schema_version"] == 1
    assert set(data["window"]) == {"start", "end", "days"}
    assert {"records_read", "requests", "duplicates", "rejected", "rejects"} <= set(data["ingest"])
    assert SUMMARY_KEYS <= set(data["summary"])
    assert {"source", "version", "unknown_models", "reported_cost_usd", "computed_cost_usd"} <= set(data["pricing"])
    for name in ("by_model", "by_feature", "by_user", "by_day"):
        assert data[name] and {"requests", "cost_usd"} <= set(data[name][0])
    assert "658 read" in output.replace(",", "") or "658 analysed" in output


def test_deterministic_json(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "openai_batch"
    texts = []
    for run in range(2):
        out = tmp_path / f"a{run}.json"
        result = CliRunner().invoke(app, ["analyze", str(source / "batch-output-expansion.jsonl"),
                                          str(source / "batch-input-expansion.jsonl"), "--json", str(out),
                                          "--db", str(tmp_path / f"s{run}.duckdb"), "-q"])
        assert result.exit_code == 0, result.output
        data = json.loads(out.read_text())
        data.pop("generated_at")
        data.pop("store_path")
        texts.append(json.dumps(data))
    assert texts[0] == texts[1]


def test_undetectable_file_exit_2(tmp_path: Path, run_cli) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello,world\nthis is not a log\n")
    code, output, data = run_cli(str(notes))
    assert code == 2
    assert "notes.txt" in output and "Formats tried" in output and "openai_batch" in output
    assert "Traceback" not in output


def test_missing_file_exit_2(run_cli) -> None:
    code, output, _ = run_cli("/nonexistent/logs.jsonl")
    assert code == 2
    assert "no such file" in output


def test_bad_lines_rejected_and_strict(shared_data: Path, tmp_path: Path, run_cli) -> None:
    lines = batch_lines(shared_data, 5)
    bad = json.loads(lines[1])
    bad["response"]["body"]["usage"]["prompt_tokens"] = -5
    early = json.loads(lines[2])
    early["response"]["body"]["created"] = 10
    logfile = tmp_path / "mixed.jsonl"
    logfile.write_text("\n".join([lines[0], json.dumps(bad), json.dumps(early), lines[3][:80], lines[4]]) + "\n")
    code, output, data = run_cli(str(logfile))
    assert code == 0, output
    assert data is not None
    ingest = data["ingest"]
    assert (ingest["records_read"], ingest["requests"], ingest["rejected"]) == (5, 2, 3)
    reasons = {r["line"]: r["reason"] for r in ingest["rejects"]}
    assert "negative" in reasons[2]
    assert "1970" in reasons[3]
    assert "invalid JSON" in reasons[4]
    assert all(r["file"].endswith("mixed.jsonl") for r in ingest["rejects"])
    strict_code, strict_output, _ = run_cli(str(logfile), "--strict")
    assert strict_code == 1
    assert "mixed.jsonl:2" in strict_output


def test_compressed_glob_and_stdin(shared_data: Path, tmp_path: Path) -> None:
    lines = batch_lines(shared_data, 6)
    (tmp_path / "logs").mkdir()
    with gzip.open(tmp_path / "logs" / "a.jsonl.gz", "wt") as handle:
        handle.write("\n".join(lines[:3]) + "\n")
    (tmp_path / "logs" / "b.log.zst").write_bytes(zstandard.ZstdCompressor().compress(("\n".join(lines[3:]) + "\n").encode()))
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(app, ["analyze", str(tmp_path / "logs" / "*"), "--json", str(out), "--db", ":memory:", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["summary"]["requests"] == 6
    spool = tmp_path / "tmp"
    spool.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "llmaudit", "analyze", "-", "--json", str(out), "--db", ":memory:", "-q"],
        input="\n".join(lines).encode(), capture_output=True, check=False, env={**os.environ, "TMPDIR": str(spool)},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(out.read_text())["summary"]["requests"] == 6
    assert list(spool.iterdir()) == []  # the copy of stdin (the user's logs) is gone once the run ends


def test_store_rerun_and_overlap_counted_once(shared_data: Path, tmp_path: Path) -> None:
    lines = batch_lines(shared_data, 10)
    first = tmp_path / "export-1.jsonl"
    second = tmp_path / "export-2.jsonl"
    first.write_text("\n".join(lines[:7]) + "\n")
    second.write_text("\n".join(lines[4:]) + "\n")
    db = tmp_path / "store.duckdb"
    out = tmp_path / "audit.json"
    for _ in range(2):
        result = CliRunner().invoke(app, ["analyze", str(first), str(second), "--json", str(out), "--db", str(db), "-q"])
        assert result.exit_code == 0, result.output
        ingest = json.loads(out.read_text())["ingest"]
        assert (ingest["records_read"], ingest["requests"], ingest["duplicates"]) == (13, 10, 3)
    with duckdb.connect(str(db), read_only=True) as con:
        count = con.execute("SELECT count(*), count(DISTINCT request_id) FROM requests").fetchone()
        texts = con.execute("SELECT count(*) FROM texts").fetchone()
    assert count == (10, 10)
    assert texts is not None and texts[0] >= 1
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    # One file at a time into the same store, then the store alone: the same totals.
    separate = tmp_path / "separate.duckdb"
    for part in (second, first):
        CliRunner().invoke(app, ["analyze", str(part), "--db", str(separate), "-q"])
    result = CliRunner().invoke(app, ["analyze", "--db", str(separate), "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    together = json.loads(out.read_text())
    assert together["summary"]["requests"] == 10


def test_formats_lists_every_reader() -> None:
    result = CliRunner().invoke(app, ["formats"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    from llmaudit.ingest.registry import readers

    for name in readers():
        assert name in result.output


def test_the_command_line_loads_without_the_analysis_libraries() -> None:
    """The fork server starts before the command line loads polars (ingest/forkserver.py): both loads overlap."""
    probe = "import sys, llmaudit.cli; print(sorted(m for m in ('polars', 'numpy', 'sklearn', 'duckdb') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_analysis_does_not_load_scikit_learn() -> None:
    """Its n-grams, TF-IDF and normalisation are computed here (checked against scikit-learn in the tests):
    loading scikit-learn would cost 0.8 s of CPU in every run."""
    sample = Path(__file__).resolve().parents[1] / "sample_logs"
    probe = ("import sys; from llmaudit.audit import run_audit; from llmaudit.config import AuditConfig; "
             f"result = run_audit(AuditConfig(inputs=({str(sample)!r},))); "
             "print(*[lever.name for lever in result.levers if lever.skipped_reason is None], 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["exact_cache", "semantic_cache", "prompt_caching", "False"]


def test_a_terminated_run_leaves_no_copy_of_stdin(tmp_path: Path) -> None:
    """Killed (SIGTERM) while it reads stdin, the command removes its private copy of it: it holds prompts."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "llmaudit", "analyze", "-", "--db", ":memory:", "-q"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    assert process.stdin is not None
    process.stdin.write(b'{"partial": "line"}\n')
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob("llmaudit-stdin-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob("llmaudit-stdin-*")), "stdin was never spooled"
    process.terminate()
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    process.stdin.close()
    assert list(tmp_path.glob("llmaudit-*")) == []
