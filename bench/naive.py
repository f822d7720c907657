"""The naive per-record audit llmaudit is measured against, written the way blog posts write it.

One pass over a JSONL log: json.loads per line, tiktoken on every message of every request
(OpenAI cookbook style: tokens per message plus every value encoded), one
genai_prices.calc_price call per row, and dictionaries summing cost and tokens by model and
by feature. Nothing is de-duplicated or vectorised; that is the point. Reads openai_chat
proxy logs and anthropic_messages logger lines (the bench's formats).

    python bench/naive.py LOG.jsonl [--json summary.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from genai_prices import Usage, calc_price

from llmaudit.tokens.encodings import load_encoding

TOKENS_PER_MESSAGE = 3


def texts_of(content: Any) -> list[str]:
    """The texts in a message's content: a string, or a list of content blocks."""
    if isinstance(content, str):
        return [content]
    texts = []
    for block in content or []:
        if block.get("type") == "text":
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            texts.append(block["name"] + json.dumps(block["input"]))
        elif block.get("type") == "tool_result":
            texts.extend(texts_of(block.get("content")))
    return texts


def openai_row(record: dict[str, Any]) -> dict[str, Any] | None:
    """Model, usage and prompt messages of an OpenAI proxy log line (None for a failed call)."""
    response = record["response"]
    usage = response.get("usage")
    if not usage:
        return None
    messages = []
    for message in record["request"]["messages"]:
        texts = texts_of(message.get("content"))
        texts += [c["function"]["name"] + c["function"]["arguments"] for c in message.get("tool_calls") or []]
        messages.append((message["role"], texts))
    return {
        "provider": "openai", "model": response["model"], "messages": messages,
        "input": usage["prompt_tokens"], "cached": usage.get("prompt_tokens_details", {}).get("cached_tokens", 0),
        "written": 0, "output": usage["completion_tokens"],
    }


def anthropic_row(record: dict[str, Any]) -> dict[str, Any] | None:
    """Model, usage and prompt messages of an Anthropic logger line (None for a failed call)."""
    response = record["response"]
    usage = response.get("usage")
    if not usage:
        return None
    request = record["request"]
    messages = [("system", texts_of(request.get("system")))] if request.get("system") else []
    messages += [(m["role"], texts_of(m["content"])) for m in request["messages"]]
    cached, written = usage.get("cache_read_input_tokens", 0), usage.get("cache_creation_input_tokens", 0)
    return {
        "provider": "anthropic", "model": response["model"], "messages": messages,
        "input": usage["input_tokens"] + cached + written, "cached": cached, "written": written,
        "output": usage["output_tokens"],
    }


def audit(path: Path) -> dict[str, Any]:
    """Cost and tokens by model and feature, and prompt tokens by role, one record at a time."""
    encoding = load_encoding("o200k_base")
    by_model: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_feature: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tokens_by_role: dict[str, int] = defaultdict(int)
    records = failed = 0
    with path.open() as log:
        for line in log:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            records += 1
            row = anthropic_row(record) if "type" in record["response"] or "system" in record["request"] \
                else openai_row(record)
            if row is None:
                failed += 1
                continue
            counted = 0
            for role, texts in row["messages"]:
                tokens = TOKENS_PER_MESSAGE + sum(len(encoding.encode(text)) for text in texts)
                tokens_by_role[role] += tokens
                counted += tokens
            usage = Usage(input_tokens=row["input"], cache_read_tokens=row["cached"],
                          cache_write_tokens=row["written"], output_tokens=row["output"])
            when = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
            try:
                cost = float(calc_price(usage, row["model"], provider_id=row["provider"],
                                        genai_request_timestamp=when).total_price)
            except LookupError:
                cost = 0.0
            feature = (record.get("metadata") or {}).get("feature") or "(none)"
            for sums, key in ((by_model, row["model"]), (by_feature, feature)):
                sums[key]["requests"] += 1
                sums[key]["cost_usd"] += cost
                sums[key]["input_tokens"] += row["input"]
                sums[key]["output_tokens"] += row["output"]
                sums[key]["counted_prompt_tokens"] += counted
    return {"records": records, "failed": failed, "by_model": by_model, "by_feature": by_feature,
            "prompt_tokens_by_role": tokens_by_role}


def main(argv: list[str] | None = None) -> int:
    """Command line: LOG [--json OUT]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--json", type=Path, help="write the summary here")
    args = parser.parse_args(argv)
    summary = audit(args.log)
    text = json.dumps(summary, indent=1, sort_keys=True)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
