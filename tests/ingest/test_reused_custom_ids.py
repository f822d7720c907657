"""Two batches that number their custom ids alike ("request-1", "request-2", as OpenAI's guide does).

custom_id is unique only within one batch: the second batch's lines are other requests, never
duplicates of the first's, and each output is joined to the input whose model and prompt fit it.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder

# Batch "short" asks one-line questions of gpt-4o-mini; batch "long" sends a long document to the same model.
BATCHES = {"short": ("Name a colour.", 8), "long": ("Summarise this report. " + "The quarter went well. " * 400, 2_310)}


def _input_line(custom_id: str, prompt: str) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}})


def _output_line(batch: str, custom_id: str, prompt_tokens: int) -> str:
    body = {"id": f"chatcmpl-{batch}-{custom_id}-AbCdEfGhIjKlMnOp", "object": "chat.completion", "created": 1742244770,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"{batch} answer"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 20, "total_tokens": prompt_tokens + 20}}
    return json.dumps({"id": f"batch_req_{batch}_{custom_id}_0123456789abcdef", "custom_id": custom_id,
                       "response": {"status_code": 200, "request_id": f"{batch}{custom_id}", "body": body},
                       "error": None})


@pytest.fixture
def batch_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for batch, (prompt, tokens) in BATCHES.items():
        ids = ("request-1", "request-2")
        files[f"{batch}_input"] = tmp_path / f"{batch}_input.jsonl"
        files[f"{batch}_input"].write_text("".join(_input_line(i, prompt) + "\n" for i in ids))
        files[f"{batch}_output"] = tmp_path / f"{batch}_output.jsonl"
        files[f"{batch}_output"].write_text("".join(_output_line(batch, i, tokens) + "\n" for i in ids))
    return files


def _read(paths: list[Path]) -> Ingestor:
    ingestor = Ingestor(TableBuilder())
    for path in paths:
        ingestor.read_file(SourceFile(path.name, path))
    ingestor.finish()
    return ingestor


@pytest.mark.parametrize("order", list(itertools.permutations(["short_input", "long_input", "short_output",
                                                                "long_output"])))
def test_each_output_meets_the_input_of_its_own_batch(batch_files: dict[str, Path], order: tuple[str, ...]) -> None:
    ingestor = _read([batch_files[name] for name in order])
    report = ingestor.report
    assert report.balanced
    assert (report.records_read, report.requests, report.merged_halves, report.rejected) == (8, 4, 4, 0)
    requests = ingestor.builder.requests_frame()
    messages = ingestor.builder.messages_frame().join(ingestor.builder.texts_frame(), on="text_hash")
    prompts = dict(zip(messages["request_id"], messages["text"], strict=True))
    for row in requests.iter_rows(named=True):
        batch = "short" if row["input_tokens"] == BATCHES["short"][1] else "long"
        assert prompts[row["request_id"]] == BATCHES[batch][0]


def test_outputs_alone_of_two_batches_are_all_billed(batch_files: dict[str, Path]) -> None:
    report = _read([batch_files["short_output"], batch_files["long_output"]]).report
    assert (report.records_read, report.requests, report.duplicates) == (4, 4, 0)


def test_a_file_given_twice_is_still_a_duplicate(batch_files: dict[str, Path]) -> None:
    files = [batch_files["short_input"], batch_files["short_input"], batch_files["short_output"],
             batch_files["short_output"]]
    report = _read(files).report
    assert report.balanced
    assert (report.records_read, report.requests, report.merged_halves, report.duplicates, report.rejected) == (
        8, 2, 2, 6, 0)
