"""Tokenization throughput with and without unique-text de-duplication.

On an openai_chat log (100k requests by default, made by synth.py and cached in bench/.data/):
every message text of every request is extracted once (msgspec), then counted with the
project's `llmaudit.tokens.counting.count_tokens` (o200k_base, offline ranks) two ways:

- every occurrence: each request's system prompt, history and query counted again;
- unique texts: occurrences de-duplicated first, each distinct text counted once.

Prints the text volumes, MB/s of the text actually tokenized, and requests/s end to end
(extraction + de-duplication + counting), and checks both give the same total.

    python bench/tokenization.py [--log PATH] [--requests 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import msgspec

from llmaudit.tokens.counting import count_tokens

BENCH = Path(__file__).resolve().parent
ENCODING = "o200k_base"


class _Message(msgspec.Struct):
    content: str | list[dict[str, object]] | None = None
    tool_calls: list[dict[str, object]] | None = None


class _Request(msgspec.Struct):
    messages: list[_Message] = []


class _Line(msgspec.Struct):
    request: _Request | None = None


def message_texts(path: Path) -> tuple[list[list[str]], float]:
    """Every request's message texts in order, and the seconds the extraction took."""
    decoder = msgspec.json.Decoder(_Line)
    started = time.perf_counter()
    requests = []
    with path.open("rb") as log:
        for line in log:
            request = decoder.decode(line).request
            texts: list[str] = []
            for message in request.messages if request else []:
                if isinstance(message.content, str):
                    texts.append(message.content)
                for call in message.tool_calls or []:
                    function = call.get("function")
                    if isinstance(function, dict):
                        texts.append(f"{function.get('name')}({function.get('arguments')})")
            requests.append(texts)
    return requests, time.perf_counter() - started


def measure(requests: list[list[str]], extract_s: float, dedup: bool) -> dict[str, float]:
    """Count every occurrence, or each unique text once; seconds, volumes and the total."""
    started = time.perf_counter()
    occurrences = [text for texts in requests for text in texts]
    texts = list(dict.fromkeys(occurrences)) if dedup else occurrences
    prepared = time.perf_counter()
    counts = count_tokens(texts, ENCODING)
    counted = time.perf_counter()
    if dedup:
        by_text = dict(zip(texts, counts, strict=True))
        total = sum(by_text[text] for text in occurrences)
    else:
        total = sum(counts)
    chars = sum(map(len, texts))
    return {"texts": len(texts), "mb": chars / 1e6, "prepare_s": prepared - started, "count_s": counted - prepared,
            "end_to_end_s": extract_s + (time.perf_counter() - started), "tokens": total}


def main(argv: list[str] | None = None) -> int:
    """Command line: [--log PATH] [--requests N] (the log is generated when missing)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--log", type=Path, help="an openai_chat log (default: the cached synthetic one)")
    args = parser.parse_args(argv)
    log = args.log or BENCH / ".data" / f"openai_chat_{args.requests}.jsonl"
    if not log.exists():
        from synth import synthesise

        synthesise(args.requests, "openai_chat", log)
    requests, extract_s = message_texts(log)
    n = len(requests)
    print(f"{log.name}: {n:,} requests, {sum(map(len, requests)):,} message texts; extraction {extract_s:.1f} s")
    results = {label: measure(requests, extract_s, dedup) for label, dedup in (("every occurrence", False),
                                                                               ("unique texts", True))}
    print(f"{'':18} {'texts':>10} {'text MB':>9} {'count s':>8} {'MB/s':>7} {'end-to-end s':>13} {'requests/s':>11}")
    for label, r in results.items():
        print(f"{label:18} {r['texts']:>10,.0f} {r['mb']:>9,.1f} {r['count_s']:>8.1f} {r['mb'] / r['count_s']:>7.1f} "
              f"{r['end_to_end_s']:>13.1f} {n / r['end_to_end_s']:>11,.0f}")
    every, unique = results["every occurrence"], results["unique texts"]
    print(f"de-duplication: {every['mb'] / unique['mb']:.1f}x less text, {every['end_to_end_s'] / unique['end_to_end_s']:.1f}x "
          f"faster end to end; totals {'agree' if every['tokens'] == unique['tokens'] else 'DIFFER'} "
          f"({every['tokens']:,} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
