"""The scale benchmark `make bench` runs: llmaudit analyze against the bare parse and a naive loop.

For each log (openai_chat at every --sizes, plus --other-format at the smallest size), made by
synth.py and cached in bench/.data/, the programs run one at a time, each in its own process, each
with the log read just before it (warm: in the page cache).
Memory is reported twice: the peak RSS of the process itself (wait4), and the peak of its whole
process tree sampled twice a second as PSS (forked token-counting workers included, pages they
share with their parent counted once). A run whose tree passes --max-rss-gb is killed and
reported as such (the machine may be shared).

  analyze     llmaudit analyze LOG --db :memory: -q --json OUT
  floor       bench/floor.py: a bare polars.read_ndjson of the same file (polars.read_csv for CSV),
              parse only, twice: with a schema inferred from lines across the whole file (every
              field llmaudit reads is parsed: the floor the target is against), and with
              read_ndjson's default schema from the first 100 lines (fields those lines lack,
              such as tools absent there, are skipped: a lower figure, for reference)
  naive       bench/naive.py: json.loads, tiktoken on every message, calc_price per row, and the
              three cache levers record by record (flat brute-force search for the semantic cache)
  naive, costs only   the same loop without the levers (the cheapest loop one could call an audit)

and prints wall time, peak RSS, requests/s and MB/s, then the ratios analyze/floor (target
<= 3, against the whole-file schema) and naive/analyze (target >= 20; the costs-only loop and
the first-rows floor are printed for reference). Above --skip-naive-above the naive loops are not run
on the whole log, and their times are marked "est.": the costs-only loop's is extrapolated linearly
from the largest size it ran on; the loop with the levers, whose flat semantic search grows with the
square of the requests, is run on the first --skip-naive-above and twice as many requests of a log at
least four times that size, and a*n + b*n^2 through those two times is extrapolated (the linear
figure is noted too, as a lower bound; a smaller log gets the linear figure alone). A log
too big to parse into one frame in the memory available is parsed in pieces (`floor.py`).
Results are also written to bench/.data/results.md.

    python bench/run.py [--sizes 100000,1000000] [--skip-naive-above 100000] [--other-format anthropic_messages]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from synth import FORMATS, synthesise

BENCH = Path(__file__).resolve().parent
DATA = BENCH / ".data"
FLOOR_BYTES_PER_FILE_BYTE = 7
"""polars.read_ndjson's peak RSS per byte of JSONL with the whole-file schema, measured on 100k logs (4.6x
openai_chat, 6.0x anthropic_messages); a log that would not fit is parsed in pieces that do (`floor.py`)."""
FLOOR = BENCH / "floor.py"
FLOOR_PIECE_MB = 256
"""Pieces of this size parse at the whole 100k log's rate (8.9-9.1 s for 978 MB in pieces of 64 MB to 1 GB,
or whole); pieces of 1.3 GB of the 1M log parsed 25% slower."""
FLOOR_LABELS = {"sample": "floor: polars read, whole-file schema", "head": "floor: polars read, first-rows schema"}


@dataclass
class Measure:
    """One program run on one log."""

    program: str
    seconds: float | None
    peak_rss_mb: float | None = None
    tree_peak_mb: float | None = None
    note: str = ""
    output: str = ""
    """What the program printed."""


def _tree_pss_mb(pid: int) -> float:
    """PSS of a process and all its descendants, in MB (0 once it is gone)."""
    total_kb, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
            for children in Path(f"/proc/{current}/task").glob("*/children"):
                pending += [int(child) for child in children.read_text().split()]
        except (OSError, ValueError):
            continue
    return total_kb / 1024


def warm(log: Path) -> None:
    """Read ``log`` through, so the program measured next finds it in the page cache.

    Every program is measured warm: otherwise whichever runs first after the system dropped the file's
    pages (the machine reclaims idle page cache within minutes) is charged for the disk, and that cost is
    a larger share of a fast program's time (100k Anthropic requests, back to back: 12.2 s cold against
    10.3 s warm, and 10.3 s against 9.7 s).
    """
    with log.open("rb", buffering=0) as stream:
        while stream.read(16 << 20):
            pass


def run_measured(command: list[str], max_rss_mb: float, log: Path) -> Measure:
    """Run a command reading ``log`` to completion (the log warmed first) under a memory watchdog; a failure is
    noted, not raised."""
    peak, done = [0.0], threading.Event()
    warm(log)
    with tempfile.TemporaryFile() as stderr, tempfile.TemporaryFile() as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, start_new_session=True)

        def watch() -> None:
            while not done.wait(0.5):
                peak[0] = max(peak[0], _tree_pss_mb(process.pid))
                if peak[0] > max_rss_mb:
                    os.killpg(process.pid, signal.SIGKILL)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(process.pid, 0)
        done.set()
        watcher.join()
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        measure = Measure(Path(command[1]).name, elapsed, usage.ru_maxrss / 1024, peak[0],
                          output=stdout.read().decode(errors="replace"))
        if peak[0] > max_rss_mb:
            measure.seconds, measure.note = None, f"killed after {elapsed:.0f} s above {max_rss_mb / 1e3:.0f} GB"
        elif process.returncode != 0:
            stderr.seek(0)
            last = (stderr.read().decode(errors="replace").strip().splitlines() or [""])[-1][-160:]
            measure.seconds, measure.note = None, f"failed after {elapsed:.0f} s (exit {process.returncode}) {last}"
    return measure


GENERATOR_SOURCES = (BENCH / "synth.py", BENCH.parent / "sample_logs" / "generate.py")


def generator_stamp() -> str:
    """A hash of the generator's code: a cached log made by other code is made again."""
    digest = hashlib.blake2b(digest_size=8)
    for source in GENERATOR_SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def log_path(fmt: str, requests: int) -> Path:
    """The cached synthetic log of a format and size (generated on first use, and again when the generator
    changed: its stamp is kept beside it, and the prefixes cut from an older log go with it)."""
    path = DATA / f"{fmt}_{requests}.{'csv' if fmt == 'litellm_spendlogs' else 'jsonl'}"
    stamp, current = path.with_name(path.name + ".generator"), generator_stamp()
    if not path.exists() or not stamp.exists() or stamp.read_text() != current:
        for stale in DATA.glob(f"{path.stem}.first_*"):
            stale.unlink()
        started = time.perf_counter()
        synthesise(requests, fmt, path)
        stamp.write_text(current)
        print(f"generated {path.name}: {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s",
              flush=True)
    return path


def available_mb() -> float:
    """MemAvailable from /proc/meminfo (infinite where unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def bench_log(path: Path, requests: int, rates: dict[str, float], skip_naive_above: int, max_rss_mb: float) -> list[Measure]:
    """Every program on one log; `rates` holds the naive loops' seconds per request measured on smaller logs."""
    out = DATA / "out"
    out.mkdir(exist_ok=True)
    audit_json = out / f"{path.stem}.audit.json"
    analyze = run_measured([sys.executable, "-m", "llmaudit", "analyze", str(path), "--db", ":memory:", "-q",
                            "--json", str(audit_json)], max_rss_mb, path)
    analyze.program = "llmaudit analyze"
    if analyze.seconds:
        ingest = json.loads(audit_json.read_text())["ingest"]
        if ingest["requests"] != requests:
            analyze.note = f"requests {ingest['requests']:,} of {requests:,}"
    print(f"  analyze: {analyze.seconds or 0:.1f} s {analyze.note}", flush=True)
    floors = [_floor(path, schema, max_rss_mb) if schema == "sample" or path.suffix == ".jsonl"
              else Measure(FLOOR_LABELS[schema], None, note="JSONL only") for schema in ("sample", "head")]
    naives = [_naive(path, requests, rates, skip_naive_above, max_rss_mb, out, costs_only)
              for costs_only in (False, True)]
    return [analyze, *floors, *naives]


def _floor(path: Path, schema: str, max_rss_mb: float) -> Measure:
    """bench/floor.py with the schema inferred from lines across the file (sample) or from its first lines (head)."""
    size_mb = path.stat().st_size / 1e6
    room_mb = min(available_mb(), max_rss_mb)
    command = [sys.executable, str(FLOOR), str(path), "--schema", schema]
    notes = ["parse only"]
    if size_mb * FLOOR_BYTES_PER_FILE_BYTE > room_mb and path.suffix == ".jsonl":
        piece_mb = min(FLOOR_PIECE_MB, room_mb / FLOOR_BYTES_PER_FILE_BYTE / 2)
        command += ["--piece-bytes", str(int(piece_mb * 1e6))]
        notes.append(f"in pieces of {piece_mb:.0f} MB (one frame would need"
                     f" ~{size_mb * FLOOR_BYTES_PER_FILE_BYTE / 1e3:.0f} GB)")
    floor = run_measured(command, max_rss_mb, path)
    floor.program = FLOOR_LABELS[schema]
    words = floor.output.split()
    printed = dict(zip(words[::2], words[1::2], strict=False))
    if floor.seconds and "parse_seconds" in printed:
        floor.seconds = float(printed["parse_seconds"])
        notes.append(f"{printed.get('fields', '?')} fields")
        floor.note = "; ".join(notes)
    print(f"  {floor.program}: {floor.seconds or 0:.1f} s {floor.note}", flush=True)
    return floor


def _naive(path: Path, requests: int, rates: dict[str, float], skip_naive_above: int, max_rss_mb: float, out: Path,
           costs_only: bool) -> Measure:
    """bench/naive.py with the cache levers (the same analysis), or its costs-only loop.

    Above ``skip_naive_above`` requests the loop is not run on the whole log. The costs-only loop does
    the same work per record whatever came before: its time is extrapolated linearly. The loop with
    the levers searches every earlier question of a scope (a flat index) for each new one, so its time
    grows with the square of the requests: on a log of at least four times ``skip_naive_above``
    requests it is run on the first ``skip_naive_above`` and twice as many, and a*n + b*n^2 through
    those two points is extrapolated (the linear figure from the smaller log is noted beside it, as a
    lower bound); below that, the linear figure stands, marked as an underestimate.
    """
    label = "naive loop, costs only" if costs_only else "naive loop, same analysis"
    rate = f"naive_s_per_request_{costs_only}"
    if path.suffix == ".csv":
        naive = Measure(label, None, note="not for CSV")
    elif requests > skip_naive_above:
        linear = rates[rate] * requests if rate in rates else None
        linear_note = "est. from the smaller log (linear)" + ("" if costs_only else ": an underestimate")
        naive = Measure(label, linear, note=linear_note if linear else "skipped")
        if not costs_only and requests >= 4 * skip_naive_above:
            naive = _fitted_naive(path, requests, skip_naive_above, max_rss_mb, out, linear) or naive
    else:
        naive = _run_naive(path, max_rss_mb, out, costs_only)
        if naive.seconds:
            rates[rate] = naive.seconds / requests
    naive.program = label
    print(f"  {label}: {naive.seconds or 0:.1f} s {naive.note}", flush=True)
    return naive


def _run_naive(path: Path, max_rss_mb: float, out: Path, costs_only: bool = False) -> Measure:
    return run_measured([sys.executable, str(BENCH / "naive.py"), str(path), "--json",
                         str(out / f"{path.stem}.naive.json"), *(["--costs-only"] if costs_only else [])], max_rss_mb,
                        path)


def _fitted_naive(path: Path, requests: int, first: int, max_rss_mb: float, out: Path,
                  linear: float | None) -> Measure | None:
    """The naive loop's time on the whole log from runs on its first ``first`` and 2 * ``first`` requests."""
    points = []
    for count in (first, 2 * first):
        prefix = DATA / f"{path.stem}.first_{count}.jsonl"
        if not prefix.exists():
            partial = prefix.with_suffix(".partial")  # renamed once whole: an interrupted copy is never reused
            with path.open("rb") as log, partial.open("wb") as head:
                head.writelines(line for _, line in zip(range(count), log, strict=False))
            partial.rename(prefix)
        measured = _run_naive(prefix, max_rss_mb, out)
        print(f"    on its first {count:,} requests: {measured.seconds or 0:.1f} s {measured.note}", flush=True)
        if not measured.seconds:
            return None
        points.append((count, measured.seconds, measured.peak_rss_mb or 0.0))
    (n1, t1, _), (n2, t2, rss2) = points
    # t = a*n + b*n^2 through both points.
    b = (t2 / n2 - t1 / n1) / (n2 - n1)
    a = t1 / n1 - b * n1
    if b <= 0:
        return None  # no growth beyond linear to extrapolate: the linear figure stands
    note = (f"est.: a*n + b*n^2 through its first {n1:,} ({t1:.0f} s) and {n2:,} requests ({t2:.0f} s,"
            f" {rss2 / 1e3:.1f} GB: the whole log would need ~{rss2 * requests / n2 / 1e3:.0f} GB);"
            f" linear from the smaller log: {linear or 0:,.0f} s")
    return Measure("", a * requests + b * requests**2, note=note)


def table(path: Path, requests: int, measures: list[Measure]) -> str:
    """A Markdown table of one log's measures and the two ratios."""
    size_mb = path.stat().st_size / 1e6
    lines = [f"### {path.name}: {requests:,} requests, {size_mb:,.0f} MB", "",
             "| program | wall s | peak RSS MB | tree peak MB | requests/s | MB/s | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for m in measures:
        wall = f"{m.seconds:,.1f}" if m.seconds else "-"
        rss = f"{m.peak_rss_mb:,.0f}" if m.peak_rss_mb else "-"
        tree = f"{m.tree_peak_mb:,.0f}" if m.tree_peak_mb else "-"
        rate = f"{requests / m.seconds:,.0f}" if m.seconds else "-"
        mbps = f"{size_mb / m.seconds:,.1f}" if m.seconds else "-"
        lines.append(f"| {m.program} | {wall} | {rss} | {tree} | {rate} | {mbps} | {m.note} |")
    analyze, floor, head_floor, naive, naive_costs = measures
    lines.append("")
    for label, slow, fast, target in (("analyze / floor (whole-file schema)", analyze, floor, "<= 3"),
                                      ("analyze / floor (first-rows schema)", analyze, head_floor, "reference"),
                                      ("naive (same analysis) / analyze", naive, analyze, ">= 20"),
                                      ("naive (costs only) / analyze", naive_costs, analyze, "reference")):
        if slow.seconds and fast.seconds:
            estimated = " (estimated)" if "est." in slow.note + fast.note else ""
            lines.append(f"{label} = {slow.seconds / fast.seconds:.2f}x (target {target}){estimated}  ")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated request counts (openai_chat)")
    parser.add_argument("--skip-naive-above", type=int, default=100_000, help="extrapolate the naive loop above this")
    parser.add_argument("--other-format", default="anthropic_messages", choices=[*FORMATS, ""],
                        help="also run this format at the smallest size ('' for none)")
    parser.add_argument("--max-rss-gb", type=float, default=min(16.0, available_mb() * 0.7 / 1e3),
                        help="kill a program whose process tree passes this (default: 70%% of available, at most 16)")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    DATA.mkdir(exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {available_mb() / 1e3:.1f} GB available",
          flush=True)
    logs = [("openai_chat", size) for size in sizes]
    if args.other_format:
        logs.insert(1, (args.other_format, sizes[0]))
    report: list[str] = []
    rates: dict[str, dict[str, float]] = {}
    for fmt, requests in logs:
        path = log_path(fmt, requests)
        print(f"{path.name}:", flush=True)
        measures = bench_log(path, requests, rates.setdefault(fmt, {}), args.skip_naive_above, args.max_rss_gb * 1e3)
        report.append(table(path, requests, measures))
        print(report[-1], flush=True)
    (DATA / "results.md").write_text("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
