"""The Done-when check of the foundation: the real OpenAI batch pair, figures computed by hand here."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

# o3-mini list prices (USD per million tokens, openai.com/api/pricing): input 1.10, output 4.40.
# Batch API: 50% off. o3-mini is pre-GPT-5, so batch cached input gets no cache discount.
O3_MINI_INPUT = Decimal("1.10")
O3_MINI_OUTPUT = Decimal("4.40")
BATCH = Decimal("0.5")


def _hand_totals(output_file: Path) -> dict[str, Decimal | int]:
    prompt = completion = reasoning = cached = requests = 0
    for line in output_file.read_text().splitlines():
        usage = json.loads(line)["response"]["body"]["usage"]
        requests += 1
        prompt += usage["prompt_tokens"]
        completion += usage["completion_tokens"]
        reasoning += usage["completion_tokens_details"]["reasoning_tokens"]
        cached += usage["prompt_tokens_details"]["cached_tokens"]
    cost = (Decimal(prompt) * O3_MINI_INPUT + Decimal(completion) * O3_MINI_OUTPUT) * BATCH / Decimal(1_000_000)
    return {"requests": requests, "prompt": prompt, "completion": completion, "reasoning": reasoning,
            "cached": cached, "cost": cost}


def test_batch_pair_exact(shared_data: Path, run_cli) -> None:
    folder = shared_data / "openai_batch"
    hand = _hand_totals(folder / "batch-output-expansion.jsonl")
    code, output, data = run_cli(str(folder / "batch-input-expansion.jsonl"), str(folder / "batch-output-expansion.jsonl"))
    assert code == 0, output
    assert data is not None
    summary = data["summary"]
    assert summary["requests"] == hand["requests"] == 658
    assert summary["input_tokens"] == hand["prompt"]
    assert summary["output_tokens"] == hand["completion"]
    assert summary["reasoning_tokens"] == hand["reasoning"]
    assert summary["cache_read_tokens"] == hand["cached"]
    assert Decimal(str(summary["cost_usd"])) == hand["cost"].quantize(Decimal("0.000001"))
    ingest = data["ingest"]
    assert (ingest["records_read"], ingest["requests"], ingest["duplicates"], ingest["rejected"]) == (1316, 658, 658, 0)
    assert ingest["merged_halves"] == 658  # the 658 "duplicates" are the input halves, not copies
    assert data["by_model"][0]["price_model"] == "o3-mini"


def test_batch_output_alone(shared_data: Path, run_cli) -> None:
    folder = shared_data / "openai_batch"
    hand = _hand_totals(folder / "batch-output-expansion.jsonl")
    code, output, data = run_cli(str(folder / "batch-output-expansion.jsonl"))
    assert code == 0, output
    assert data is not None
    assert data["summary"]["requests"] == 658
    assert Decimal(str(data["summary"]["cost_usd"])) == hand["cost"].quantize(Decimal("0.000001"))
    assert data["ingest"]["duplicates"] == data["ingest"]["merged_halves"] == 0


def test_batch_input_alone_is_rejected_with_reason(shared_data: Path, run_cli) -> None:
    code, output, data = run_cli(str(shared_data / "openai_batch" / "batch-input-expansion.jsonl"))
    assert data is not None
    assert data["ingest"]["rejected"] == 658
    assert data["ingest"]["rejects"][0]["line"] >= 1
    assert "no matching output" in data["ingest"]["rejects"][0]["reason"]
