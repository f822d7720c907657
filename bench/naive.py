"""The naive per-record audit llmaudit is measured against, written the way blog posts write it.

One pass over a JSONL log: json.loads per line, tiktoken on every message and every tool
definition of every request (OpenAI cookbook style: tokens per message plus every value encoded;
the tools, which the analysis attributes too, as their JSON), one
genai_prices.calc_price call per row, and dictionaries summing cost and tokens by model and
by feature. Then, record by record as they come, the same three levers llmaudit simulates,
the way the articles build them:

- exact cache: a dict keyed by model + the tools + the full prompt, 24 h TTL;
- semantic cache: each single-turn question is embedded on its own (hashed word and
  character n-grams, 2,048 dimensions) and compared with every cached question of the same
  model, system prompt and tools by a flat brute-force search (a numpy dot product against the
  cached vectors, as a flat vector index does), hit at cosine >= 0.93;
- provider prompt caching: the prompt's tokens (tools first, as providers order the prefix)
  compared, token by token, with the previous
  prompt of the same model, cached from 1,024 tokens in steps of 128.

Nothing is de-duplicated or vectorised across records; that is the point. ``--costs-only``
stops after the sums (the cheapest loop one could call an audit). Reads openai_chat proxy
logs and anthropic_messages logger lines (the bench's formats).

    python bench/naive.py LOG.jsonl [--json summary.json] [--costs-only]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from genai_prices import Usage, calc_price
from sklearn.feature_extraction.text import HashingVectorizer

from llmaudit.tokens.encodings import load_encoding

TOKENS_PER_MESSAGE = 3
TTL_SECONDS = 24 * 3600
SEMANTIC_THRESHOLD = 0.93
DIMENSIONS = 2048
PROMPT_CACHE_MIN, PROMPT_CACHE_STEP = 1024, 128


class Levers:
    """The three cache simulations, fed one request at a time."""

    def __init__(self) -> None:
        self.exact: dict[str, float] = {}
        self.exact_hits = 0
        self.words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=DIMENSIONS, alternate_sign=False)
        self.chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=DIMENSIONS, alternate_sign=False)
        self.index: dict[str, tuple[np.ndarray, int]] = {}
        self.semantic_hits = 0
        self.previous_prompt: dict[str, list[int]] = {}
        self.cacheable_tokens = 0

    def feed(self, model: str, when: float, messages: list[tuple[str, list[str]]], tools: list[str],
             tokens: list[int]) -> None:
        """One request: its model, time (epoch s), messages, tool definitions (JSON) and prompt tokens."""
        prompt = json.dumps([tools, messages])
        key = model + prompt
        if key in self.exact and when - self.exact[key] <= TTL_SECONDS:
            self.exact_hits += 1
        else:
            self.exact[key] = when
        users = [" ".join(texts) for role, texts in messages if role == "user"]
        if len(users) == 1:
            system = " ".join(" ".join(texts) for role, texts in messages if role == "system")
            self._semantic(model + "\x1f" + system + "\x1f" + "".join(tools), users[0])
        before = self.previous_prompt.get(model, [])
        shared = 0
        for mine, theirs in zip(tokens, before, strict=False):
            if mine != theirs:
                break
            shared += 1
        if shared >= PROMPT_CACHE_MIN:
            self.cacheable_tokens += shared - (shared - PROMPT_CACHE_MIN) % PROMPT_CACHE_STEP
        self.previous_prompt[model] = tokens

    def _semantic(self, scope: str, question: str) -> None:
        vector = np.asarray(self.words.transform([question]).todense() + self.chars.transform([question[:500]]).todense(),
                            dtype=np.float32).ravel()
        vector /= np.linalg.norm(vector) or 1.0
        matrix, size = self.index.get(scope, (np.empty((0, DIMENSIONS), dtype=np.float32), 0))
        if size and float((matrix[:size] @ vector).max()) >= SEMANTIC_THRESHOLD:
            self.semantic_hits += 1
            return
        if size == len(matrix):  # a flat index: append, doubling its capacity when full
            matrix = np.vstack([matrix, np.empty((max(size, 64), DIMENSIONS), dtype=np.float32)])
        matrix[size] = vector
        self.index[scope] = (matrix, size + 1)

    def summary(self) -> dict[str, int]:
        return {"exact_hits": self.exact_hits, "semantic_hits": self.semantic_hits,
                "prompt_cacheable_tokens": self.cacheable_tokens}




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
        "tools": [json.dumps(tool) for tool in record["request"].get("tools") or []],
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
        "tools": [json.dumps(tool) for tool in request.get("tools") or []],
        "input": usage["input_tokens"] + cached + written, "cached": cached, "written": written,
        "output": usage["output_tokens"],
    }


def audit(path: Path, levers: Levers | None = None) -> dict[str, Any]:
    """Cost and tokens by model and feature, prompt tokens by role, and the levers, one record at a time."""
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
            prompt_tokens: list[int] = []
            for tool in row["tools"]:
                encoded = encoding.encode(tool)
                prompt_tokens += encoded
                tokens_by_role["tools"] += len(encoded)
                counted += len(encoded)
            for role, texts in row["messages"]:
                encoded = [token for text in texts for token in encoding.encode(text)]
                prompt_tokens += encoded
                tokens = TOKENS_PER_MESSAGE + len(encoded)
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
            if levers is not None:
                levers.feed(row["model"], when.timestamp(), row["messages"], row["tools"], prompt_tokens)
            feature = (record.get("metadata") or {}).get("feature") or "(none)"
            for sums, key in ((by_model, row["model"]), (by_feature, feature)):
                sums[key]["requests"] += 1
                sums[key]["cost_usd"] += cost
                sums[key]["input_tokens"] += row["input"]
                sums[key]["output_tokens"] += row["output"]
                sums[key]["counted_prompt_tokens"] += counted
    return {"records": records, "failed": failed, "by_model": by_model, "by_feature": by_feature,
            "prompt_tokens_by_role": tokens_by_role, "levers": levers.summary() if levers is not None else None}


def main(argv: list[str] | None = None) -> int:
    """Command line: LOG [--json OUT]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--costs-only", action="store_true", help="costs and tokens only, no cache levers")
    args = parser.parse_args(argv)
    summary = audit(args.log, None if args.costs_only else Levers())
    text = json.dumps(summary, indent=1, sort_keys=True)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
