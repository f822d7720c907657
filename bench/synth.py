"""Seeded generator of realistic LLM request logs of any size, for benchmarks.

The Acme Helpdesk product of sample_logs/generate.py at any volume: its prompts, features and
record writers are imported from there; only the scheduling is new. Traffic is cut into one
unit per day, each deterministic from (--seed, --format, day) whatever --jobs is. A unit
streams its sessions in time order through a heap (a conversation's turns interleave with
other traffic; a day whose sessions run short of its quota runs on past midnight at its mean
rate, so two days' records may overlap in the next day's first hours) and simulates the OpenAI and Anthropic prompt caches over the real prefixes,
pruned as time passes, so memory stays flat whatever --requests is.

    python bench/synth.py --requests 100000 --format openai_chat --out bench/.data/chat.jsonl

What each format holds (shares of requests):
  openai_chat         an OpenAI-compatible proxy's log: support-bot chats (the ~1.6k-token
                      shared system prompt, FAQ repeats and paraphrases, growing history, a
                      widget variant that stamps the time into the prompt) 44%, a gpt-4.1
                      tool-calling agent 14%, ticket-classifier at temperature 0 with re-sent
                      tickets 20%, docs-qa with retrieved chunks in <documents> 12%, o4-mini
                      escalation reviews 5%, nightly summaries at 02:00 5%
  anthropic_messages  an Anthropic logger: the agent (tools, cache breakpoints) 45%, support-bot
                      on claude-sonnet-4-5 30%, urgency triage on claude-opus-4-1 15%, docs-qa 10%
  litellm_spendlogs   LiteLLM SpendLogs (CSV for a .csv path, else JSONL): docs-qa A/B between
                      gpt-4.1 and claude-sonnet-4-5 75%, reply drafts from a self-hosted model 25%
  openai_batch        OpenAI Batch API jobs of up to 1,000 lines, each job's input lines then its
                      output lines in another order: nightly summaries 60%, ticket backfills 40%

Token counts in usage follow the text (sample_logs' estimate, close to o200k); OpenAI cached
tokens come from the prefix-cache simulation, in 128-token steps.
"""

from __future__ import annotations

import argparse
import csv
import functools
import heapq
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sample_logs"))
import generate as acme  # noqa: E402  (sample_logs/ is a folder of data, not a package)

Record = dict[str, Any]
Render = Callable[[acme.World, acme.Call], Record]
Session = Iterable[tuple[acme.Call, Render]]
PRUNE_EVERY = 2000
"""Records between two prunings of the simulated prompt caches."""
OPENAI_RETENTION = timedelta(minutes=10)
BATCH_JOB_LINES = 1000
WRITE_BUFFER = 1 << 20


class SynthWorld(acme.World):
    """The sample's World with cheaper ids and prompt caches that forget what has expired."""

    def token(self, alphabet: str, size: int) -> str:
        """A random id part (one call into the random source, not one per character)."""
        return "".join(self.rng.choices(alphabet, k=size))

    def prune(self, now: datetime) -> None:
        """Drop OpenAI prefixes unseen for the retention time and Anthropic entries past expiry."""
        horizon = now - OPENAI_RETENTION
        self.openai_cache = {k: ts for k, ts in self.openai_cache.items() if ts >= horizon}
        self.anthropic_cache = {k: ts for k, ts in self.anthropic_cache.items() if ts > now}


class Unit:
    """One day of traffic: its random source, user pools and recent tickets."""

    def __init__(self, seed: int, fmt: str, day: int, quota: int, requests: int) -> None:
        self.world = SynthWorld(random.Random(f"{seed}:{fmt}:{day}"), seed)
        self.rng = self.world.rng
        self.start = acme.START + timedelta(days=day)
        self.day = day
        self.quota = quota
        self.users, self.user_weights = _pool(seed, "u_", max(420, requests // 60))
        self.visitors, self.visitor_weights = _pool(seed, "visitor_", max(300, requests // 60))
        self.chunks = _doc_chunks(seed)
        self.recent: deque[acme.Ticket] = deque(maxlen=300)
        self.serial = itertools.count(day * 1_000_000)

    def user(self) -> str:
        """A support-bot user (a few users send most chats)."""
        return self.rng.choices(self.users, cum_weights=self.user_weights)[0]

    def visitor(self) -> str:
        """A help-center visitor."""
        return self.rng.choices(self.visitors, cum_weights=self.visitor_weights)[0]

    def ticket(self, labels: tuple[str, ...] | None = None) -> acme.Ticket:
        """A ticket that just arrived (optionally one of the given labels)."""
        while True:
            ticket = acme.make_ticket(self.rng, next(self.serial))
            if labels is None or ticket.label in labels:
                self.recent.append(ticket)
                return ticket

    def recent_tickets(self) -> list[acme.Ticket]:
        """Tickets seen lately (what agents and reviewers work on)."""
        return list(self.recent) or [self.ticket()]


@functools.cache
def _pool(seed: int, prefix: str, size: int) -> tuple[list[str], list[float]]:
    """Ids shared by every day of a run and their Zipf cumulative weights."""
    rng = random.Random(f"{seed}:{prefix}")
    names = [prefix + "".join(rng.choices("0123456789abcdef", k=8)) for _ in range(size)]
    return names, list(itertools.accumulate(acme.zipf_weights(size)))


@functools.cache
def _doc_chunks(seed: int) -> list[tuple[str, str, str]]:
    """The help-center corpus, the same for every day of a run."""
    return acme.make_doc_chunks(random.Random(seed))


# ---------------------------------------------------------------------------------------------
# Calls in the shape of another provider.
# ---------------------------------------------------------------------------------------------

CLAUDE_ERRORS = {429: acme.CLAUDE_RATE_LIMITED, 500: acme.ApiError(500, "api_error", "Internal server error"),
                 529: acme.OVERLOADED}
CLAUDE_STOPS = {"stop": "end_turn", "length": "max_tokens"}
OPENAI_TOOLS = [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                                  "parameters": t["input_schema"]}} for t in acme.AGENT_TOOLS]
OPENAI_TOOL_TOKENS = sum(acme.estimate_tokens(json.dumps(t)) + 8 for t in OPENAI_TOOLS) + 12
"""Prompt tokens the tool definitions add (OpenAI renders them into the prompt)."""
OPENAI_AGENT_MODEL = "gpt-4.1"


def claude_chat(call: acme.Call) -> acme.Call:
    """An OpenAI-shaped chat call sent to claude-sonnet-4-5 instead (system prompt cached)."""
    messages = call.request["messages"]
    system = messages[0]["content"]
    if isinstance(system, str):
        system = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
    request: dict[str, Any] = {"max_tokens": call.request.get("max_tokens", 1024), "system": system,
                               "messages": messages[1:], "stream": bool(call.request.get("stream"))}
    if "temperature" in call.request:
        request["temperature"] = call.request["temperature"]
    if call.user:
        request["metadata"] = {"user_id": call.user}
    error = CLAUDE_ERRORS[call.error.status] if call.error else None
    return replace(call, model=acme.AGENT_MODEL, request=request, output=[{"type": "text", "text": call.output}],
                   finish_reason=CLAUDE_STOPS.get(call.finish_reason, "end_turn"), error=error, output_tokens=None)


def openai_agent(call: acme.Call) -> tuple[acme.Call, list[Record]]:
    """An Anthropic agent step as the same step on gpt-4.1 with OpenAI tools, and its tool calls."""
    request = call.request
    system = request["system"] if isinstance(request["system"], str) else request["system"][0]["text"]
    messages: list[Record] = [{"role": "system", "content": system}]
    for message in request["messages"]:
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
        elif message["role"] == "assistant":
            text, calls = _openai_turn(content)
            messages.append({"role": "assistant", "content": text, "tool_calls": calls})
        else:
            messages += [{"role": "tool", "tool_call_id": b["tool_use_id"], "content": b["content"]}
                         for b in content if b["type"] == "tool_result"]
    text, calls = _openai_turn(call.output)
    used = acme.estimate_tokens(text + "".join(c["function"]["name"] + c["function"]["arguments"] for c in calls))
    body = {"messages": messages, "tools": OPENAI_TOOLS, "parallel_tool_calls": False, "max_tokens": 4096,
            "user": request["metadata"]["user_id"], "stream": False}
    step = replace(call, model=OPENAI_AGENT_MODEL, request=body, output=text, output_tokens=used + 7 * len(calls),
                   finish_reason="tool_calls" if calls else "stop")
    return step, calls


def _openai_turn(blocks: list[Record]) -> tuple[str, list[Record]]:
    text = "\n".join(b["text"] for b in blocks if b["type"] == "text")
    calls = [{"id": "call_" + b["id"][8:], "type": "function",
              "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
             for b in blocks if b["type"] == "tool_use"]
    return text, calls


# ---------------------------------------------------------------------------------------------
# Record writers: the sample's, plus the tool calls of the OpenAI agent.
# ---------------------------------------------------------------------------------------------


def openai_tool_step(tool_calls: list[Record]) -> Render:
    """The proxy record of an agent step: the response carries its tool calls, usage the tool definitions."""

    def render(world: acme.World, call: acme.Call) -> Record:
        record = acme.proxy_record(world, call)
        if call.error is None:
            record["response"]["choices"][0]["message"]["tool_calls"] = tool_calls or None
            usage = record["response"]["usage"]
            usage["prompt_tokens"] += OPENAI_TOOL_TOKENS
            usage["total_tokens"] += OPENAI_TOOL_TOKENS
        return record

    return render


def _with(render: Render, calls: Iterable[acme.Call]) -> Session:
    return ((call, render) for call in calls)


# ---------------------------------------------------------------------------------------------
# Features: each a session builder (one conversation, one ticket, one question...).
# ---------------------------------------------------------------------------------------------


def support_chat(unit: Unit, ts: datetime) -> Session:
    """A support-bot conversation on gpt-4o-mini (the sample's, with its history and FAQs)."""
    return _with(acme.proxy_record, acme.support_conversation(unit.world, ts, unit.user()))


def support_claude(unit: Unit, ts: datetime) -> Session:
    """The same conversation on claude-sonnet-4-5."""
    calls = acme.support_conversation(unit.world, ts, unit.user())
    return _with(acme.anthropic_record, (claude_chat(c) for c in calls))


def _ticket_events(unit: Unit, ts: datetime, labels: tuple[str, ...] | None = None) -> list[tuple[datetime, acme.Ticket]]:
    """A new ticket, re-sent minutes later (a webhook retry) or hours later (reopened)."""
    rng, ticket = unit.rng, unit.ticket(labels)
    events = [(ts, ticket)]
    if rng.random() < 0.4:
        events.append((ts + timedelta(seconds=rng.randint(20, 600)), ticket))
    if rng.random() < 0.3:
        events.append((ts + timedelta(hours=rng.randint(1, 8)), ticket))
    return sorted(events, key=lambda e: e[0])


def classifier(unit: Unit, ts: datetime) -> Session:
    """gpt-4o ticket labels at temperature 0."""
    for when, ticket in _ticket_events(unit, ts):
        yield from _with(acme.proxy_record, acme.classifier_call(unit.world, when, ticket))


def urgency(unit: Unit, ts: datetime) -> Session:
    """claude-opus-4-1 urgency answers for bug, access and billing tickets."""
    for when, ticket in _ticket_events(unit, ts, acme.URGENCY_LABELS):
        yield from _with(acme.anthropic_record, acme.urgency_call(unit.world, when, ticket))


def docs_openai(unit: Unit, ts: datetime) -> Session:
    """A help-center question on gpt-4.1, the retrieved chunks in <documents>."""
    return _with(acme.proxy_record, acme.docs_qa_call(unit.world, ts, [unit.visitor()], unit.chunks, 0.0))


def docs_claude(unit: Unit, ts: datetime) -> Session:
    """A help-center question on claude-sonnet-4-5 (a Context: section, cached system prompt)."""
    calls = acme.docs_qa_call(unit.world, ts, [unit.visitor()], unit.chunks, 1.0)
    return _with(acme.anthropic_record, (claude_chat(c) for c in calls))


def docs_litellm(unit: Unit, ts: datetime) -> Session:
    """A help-center question through LiteLLM, A/B between gpt-4.1 and claude-sonnet-4-5."""
    return _with(acme.litellm_row, acme.docs_qa_call(unit.world, ts, [unit.visitor()], unit.chunks))


def reply_litellm(unit: Unit, ts: datetime) -> Session:
    """A draft reply from the self-hosted fine-tune (no public price)."""
    return _with(acme.litellm_row, [acme.reply_suggest_call(unit.world, ts, unit.recent_tickets())])


def escalation(unit: Unit, ts: datetime) -> Session:
    """An o4-mini review with reasoning tokens."""
    return _with(acme.proxy_record, [acme.escalation_call(unit.world, ts, unit.recent_tickets())])


def _agent_steps(unit: Unit, ts: datetime) -> list[acme.Call]:
    ticket = unit.ticket(tuple(label for label in acme.TICKET_LABELS if label != "spam"))
    staff = unit.rng.choice(acme.REPLY_STAFF[:6])
    return acme.agent_session(unit.world, ts, ticket, unit.chunks, staff)


def agent_claude(unit: Unit, ts: datetime) -> Session:
    """The tool-using agent on claude-sonnet-4-5: a request per step, history growing."""
    return _with(acme.anthropic_record, _agent_steps(unit, ts))


def agent_openai(unit: Unit, ts: datetime) -> Session:
    """The same agent on gpt-4.1 with OpenAI function tools."""
    for call in _agent_steps(unit, ts):
        step, tool_calls = openai_agent(call)
        yield step, openai_tool_step(tool_calls)


def account_name(index: int) -> str:
    """Customer accounts beyond the sample's thirty companies get a branch number."""
    company = acme.COMPANIES[index % len(acme.COMPANIES)]
    return company if index < len(acme.COMPANIES) else f"{company} {index // len(acme.COMPANIES) + 1}"


def nightly(unit: Unit, count: int) -> Session:
    """The nightly digest job: one gpt-4o call per account, back to back from 02:00."""
    ts = unit.start + timedelta(hours=2, milliseconds=unit.rng.randint(0, 4000))
    for index in range(count):
        call = acme.nightly_call(unit.world, account_name(index), unit.start, ts)
        yield from _with(acme.proxy_record, acme.with_failures(call, unit.rng, acme.SERVER_ERROR, 0.005))
        ts += timedelta(milliseconds=unit.rng.randint(500, 2500))


@dataclass(frozen=True)
class Feature:
    """A kind of traffic and its share of the requests."""

    name: str
    share: float
    session: Callable[[Unit, datetime], Session]


MIXES: dict[str, tuple[Feature, ...]] = {
    "openai_chat": (Feature("support-bot", 0.44, support_chat), Feature("agent", 0.14, agent_openai),
                    Feature("ticket-classifier", 0.20, classifier), Feature("docs-qa", 0.12, docs_openai),
                    Feature("escalation-review", 0.05, escalation)),
    "anthropic_messages": (Feature("agent", 0.45, agent_claude), Feature("support-bot", 0.30, support_claude),
                           Feature("ticket-classifier", 0.15, urgency), Feature("docs-qa", 0.10, docs_claude)),
    "litellm_spendlogs": (Feature("docs-qa", 0.75, docs_litellm), Feature("reply-suggest", 0.25, reply_litellm)),
}
NIGHTLY_SHARE = {"openai_chat": 0.05}
"""Formats whose log also holds the nightly job (a fixed-time burst, not random arrivals)."""
FORMATS = (*MIXES, "openai_batch")


# ---------------------------------------------------------------------------------------------
# Scheduling one day: session starts by hour of day, turns merged in time order.
# ---------------------------------------------------------------------------------------------


def calls_per_session(seed: int, fmt: str) -> dict[str, float]:
    """Mean requests per session of each feature, measured on a throwaway day."""
    unit = Unit(seed, f"{fmt}:calibration", 0, 1000, 1000)
    means = {}
    for feature in MIXES.get(fmt, ()):
        samples = 40 if feature.name == "agent" else 300
        means[feature.name] = sum(sum(1 for _ in feature.session(unit, unit.start)) for _ in range(samples)) / samples
    return means


def session_starts(rng: random.Random, day: datetime, planned: float) -> Iterator[datetime]:
    """Sorted start times weighted by hour of day, then (if sessions run short) on past midnight at the day's
    mean rate (at the night's rate, a short day ran on until the next afternoon)."""
    total = sum(acme.HOUR_WEIGHTS)
    for hour, weight in enumerate(acme.HOUR_WEIGHTS):
        count = int(planned * weight / total + rng.random())
        base = day + timedelta(hours=hour)
        yield from sorted(base + timedelta(milliseconds=rng.randrange(3_600_000)) for _ in range(count))
    ts, gap = day + timedelta(days=1), 24 * 3_600_000 / max(1.0, planned)
    while True:
        ts += timedelta(milliseconds=rng.expovariate(1 / gap))
        yield ts


def day_records(unit: Unit, fmt: str, means: dict[str, float]) -> Iterator[Record]:
    """The unit's quota of records, in time order."""
    features = MIXES[fmt]
    night = round(unit.quota * NIGHTLY_SHARE.get(fmt, 0.0))
    weights = list(itertools.accumulate(f.share / means[f.name] for f in features))
    per_session = sum(f.share for f in features) / weights[-1]
    heap: list[tuple[datetime, int, acme.Call, Render, Iterator[tuple[acme.Call, Render]]]] = []
    order = itertools.count()

    def push(session: Iterator[tuple[acme.Call, Render]]) -> None:
        for call, render in session:
            heapq.heappush(heap, (call.ts, next(order), call, render, session))
            return

    if night:
        push(iter(nightly(unit, night)))
    emitted = 0
    for start in session_starts(unit.rng, unit.start, (unit.quota - night) / per_session):
        while heap and (heap[0][0] <= start):
            _, _, call, render, session = heapq.heappop(heap)
            yield render(unit.world, call)
            emitted += 1
            if emitted == unit.quota:
                return
            if emitted % PRUNE_EVERY == 0:
                unit.world.prune(call.ts)
            push(session)
        feature = unit.rng.choices(features, cum_weights=weights)[0]
        push(iter(feature.session(unit, start)))


def batch_records(unit: Unit) -> Iterator[Record]:
    """The night's Batch API jobs: each job's input lines, then its output lines shuffled."""
    rng, world, written, job, accounts = unit.rng, unit.world, 0, 0, itertools.count()
    while written < unit.quota:
        size = min(BATCH_JOB_LINES, unit.quota - written)
        submitted = unit.start + timedelta(hours=2, minutes=job)
        digest = rng.random() < 0.6
        outputs = []
        for line in range(size):
            if digest:
                name = account_name(next(accounts))
                call = acme.nightly_call(world, name, unit.start, submitted)
                call.request["metadata"] = {"feature": "nightly-summaries", "account": name}
            else:
                call = acme.classifier_call(world, submitted, unit.ticket())[-1]
                call.request["metadata"] = {"feature": "ticket-classifier", "job": "backfill"}
            if rng.random() < 0.01:
                call.error = acme.SERVER_ERROR
            custom_id = f"job{unit.day:03d}-{job:04d}-{line:04d}"
            yield acme.batch_input_line(custom_id, call)
            finished = submitted + timedelta(minutes=rng.randint(4, 180), seconds=rng.randint(0, 59))
            outputs.append(acme.batch_output_line(world, custom_id, call, finished))
        rng.shuffle(outputs)
        yield from outputs
        written += size
        job += 1


# ---------------------------------------------------------------------------------------------
# Writing: one part file per day (in parallel), joined in day order.
# ---------------------------------------------------------------------------------------------


def day_quotas(requests: int) -> list[int]:
    """Requests per day of the window, by the sample's day weights (largest remainders)."""
    weights = [acme.day_weight(day) for day in acme.days()]
    exact = [requests * w / sum(weights) for w in weights]
    quotas = [math.floor(x) for x in exact]
    for index in sorted(range(len(exact)), key=lambda i: quotas[i] - exact[i])[: requests - sum(quotas)]:
        quotas[index] += 1
    return quotas


def is_csv(path: Path) -> bool:
    """LiteLLM spend logs are written as CSV when the path says so."""
    return path.name.endswith(".csv")


@dataclass(frozen=True)
class Job:
    """One day to write."""

    seed: int
    fmt: str
    day: int
    quota: int
    requests: int
    part: Path
    csv: bool
    means: dict[str, float]


def write_day(job: Job) -> tuple[Path, int]:
    """Write one day's records to its part file; returns (part, records)."""
    unit = Unit(job.seed, job.fmt, job.day, job.quota, job.requests)
    records = batch_records(unit) if job.fmt == "openai_batch" else day_records(unit, job.fmt, job.means)
    count = 0
    if job.csv:
        with job.part.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            for row in records:
                writer.writerow([row[name] for name in acme.LITELLM_COLUMNS])
                count += 1
        return job.part, count
    encode_into, buffer = msgspec.json.Encoder().encode_into, bytearray()
    with job.part.open("wb") as out:
        for record in records:
            encode_into(record, buffer, -1)
            buffer.append(10)  # newline
            count += 1
            if len(buffer) >= WRITE_BUFFER:
                out.write(buffer)
                buffer.clear()
        out.write(buffer)
    return job.part, count


def synthesise(requests: int, fmt: str, out: Path, seed: int = acme.DEFAULT_SEED, jobs: int | None = None) -> int:
    """Write `requests` records of `fmt` to `out` (atomically); returns the number of lines written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    as_csv = fmt == "litellm_spendlogs" and is_csv(out)
    means = calls_per_session(seed, fmt) if fmt in MIXES else {}
    work = [Job(seed, fmt, day, quota, requests, out.with_name(f"{out.name}.part{day:03d}"), as_csv, means)
            for day, quota in enumerate(day_quotas(requests)) if quota]
    jobs = jobs or os.cpu_count() or 1
    partial = out.with_name(out.name + ".tmp")
    lines = 0
    with partial.open("wb") as target:
        if as_csv:
            target.write((",".join(acme.LITELLM_COLUMNS) + "\n").encode())
        with multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else _InProcess() as pool:
            for part, count in pool.imap(write_day, work):
                append_file(target, part)
                part.unlink()
                lines += count
    partial.replace(out)
    return lines


def append_file(target: BinaryIO, part: Path) -> None:
    """Append a part file to the output, copied inside the kernel where it can be."""
    target.flush()
    with part.open("rb") as source:
        remaining = os.fstat(source.fileno()).st_size
        try:
            while remaining > 0:
                copied = os.copy_file_range(source.fileno(), target.fileno(), remaining)
                if copied == 0:
                    break
                remaining -= copied
        except OSError:
            shutil.copyfileobj(source, target, 1 << 22)
        target.seek(0, os.SEEK_END)


class _InProcess:
    """A stand-in for a process pool with one worker: the caller's own process (for profiling)."""

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap(self, fn: Callable[[Job], tuple[Path, int]], items: list[Job]) -> Iterator[tuple[Path, int]]:
        return map(fn, items)


def main(argv: list[str] | None = None) -> int:
    """Command line: --requests N --format F --out PATH [--seed S] [--jobs J]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, required=True, help="number of requests to write")
    parser.add_argument("--format", choices=FORMATS, default="openai_chat")
    parser.add_argument("--out", type=Path, required=True, help="output file (.csv for LiteLLM CSV)")
    parser.add_argument("--seed", type=int, default=acme.DEFAULT_SEED)
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines = synthesise(args.requests, args.format, args.out, args.seed, args.jobs)
    elapsed = time.perf_counter() - started
    size = args.out.stat().st_size
    print(f"{args.out}: {args.requests:,} requests ({lines:,} lines), {size / 1e6:,.0f} MB in {elapsed:.1f} s "
          f"({args.requests / elapsed:,.0f} requests/s, {size / 1e6 / elapsed:,.0f} MB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
