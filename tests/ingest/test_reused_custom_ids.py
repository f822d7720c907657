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


@pytest.mark.parametrize("order", list(itertools.permutations(["input_1", "input_2", "output_1", "output_2"])))
def test_two_runs_of_one_input_file_are_two_batches(tmp_path: Path, order: tuple[str, ...]) -> None:
    """A nightly job submits byte-identical input files on two nights: two batches, each output with its prompt."""
    prompt, tokens = BATCHES["short"]
    files = {}
    for night in ("1", "2"):
        files[f"input_{night}"] = tmp_path / f"input_{night}.jsonl"
        files[f"input_{night}"].write_text("".join(_input_line(i, prompt) + "\n" for i in ("request-1", "request-2")))
        files[f"output_{night}"] = tmp_path / f"output_{night}.jsonl"
        files[f"output_{night}"].write_text("".join(_output_line(f"night{night}", i, tokens) + "\n"
                                                    for i in ("request-1", "request-2")))
    ingestor = _read([files[name] for name in order])
    report = ingestor.report
    assert report.balanced
    assert (report.records_read, report.requests, report.merged_halves, report.duplicates, report.rejected) == (
        8, 4, 4, 4, 0)
    messages = ingestor.builder.messages_frame()
    assert messages["request_id"].n_unique() == 4  # every output has its prompt


def _anthropic_lines(batch: str, prompts: tuple[str, str]) -> tuple[str, str]:
    """An Anthropic batch of two requests: the first succeeds, the second fails as overloaded."""
    inputs = "".join(json.dumps({"custom_id": f"request-{n}", "params": {
        "model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": prompt}]}}) + "\n"
        for n, prompt in enumerate(prompts, start=1))
    message = {"id": f"msg_01{batch}AbCdEfGhIjKlMnOpQrSt", "type": "message", "role": "assistant",
               "model": "claude-haiku-4-5-20251001", "content": [{"type": "text", "text": "Blue."}],
               "stop_reason": "end_turn", "usage": {"input_tokens": 12, "output_tokens": 3}}
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    results = (json.dumps({"custom_id": "request-1", "result": {"type": "succeeded", "message": message}}) + "\n"
               + json.dumps({"custom_id": "request-2", "result": {"type": "errored", "error": error}}) + "\n")
    return inputs, results


@pytest.mark.parametrize("order", list(itertools.permutations(["input_a", "input_b", "results_a", "results_b"])))
def test_two_anthropic_batches_failing_alike_are_two_failures(tmp_path: Path, order: tuple[str, ...]) -> None:
    """Errored results carry no message id: the same custom id failing the same way in two batches is two
    failed requests, each with its own prompt, not one request and an input left without its result."""
    files = {}
    for batch, prompts in (("a", ("Name a colour.", "Name a fruit.")), ("b", ("Name a city.", "Name a river."))):
        inputs, results = _anthropic_lines(batch, prompts)
        files[f"input_{batch}"] = tmp_path / f"input_{batch}.jsonl"
        files[f"input_{batch}"].write_text(inputs)
        files[f"results_{batch}"] = tmp_path / f"results_{batch}.jsonl"
        files[f"results_{batch}"].write_text(results)
    ingestor = _read([files[name] for name in order])
    report = ingestor.report
    assert report.balanced and (report.requests, report.rejected, report.duplicates) == (4, 0, 4)
    requests = ingestor.builder.requests_frame()
    assert requests.filter(requests["status"] != "ok").height == 2
    again = _read([files[name] for name in order] * 2).report
    assert again.balanced and (again.requests, again.rejected, again.duplicates) == (4, 0, 12)


def test_a_joined_batch_request_keeps_the_settings_of_its_input() -> None:
    """The output half has no request body: response format, stop sequences... come from the input half."""
    from llmaudit.ingest.pipeline import _merge_halves
    from llmaudit.ingest.records import RequestRecord

    partial = RequestRecord(source_line=1, join_key="req-1", is_partial=True, model="gpt-4o", temperature=0.0,
                            output_params='{"response_format":{"type":"json_object"}}')
    full = RequestRecord(source_line=1, join_key="req-1", model="gpt-4o-2024-08-06", input_tokens=10, output_tokens=2)
    merged = _merge_halves(partial, full)
    assert (merged.output_params, merged.temperature) == ('{"response_format":{"type":"json_object"}}', 0.0)
