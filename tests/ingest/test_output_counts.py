"""A missing output count is never priced as zero output: derived where the log allows, else rejected."""

from __future__ import annotations

from typing import Any

import pytest

from llmaudit.ingest.anthropic_common import apply_usage
from llmaudit.ingest.bedrock import apply_tokens
from llmaudit.ingest.coerce import BadValue
from llmaudit.ingest.helicone import column_usage
from llmaudit.ingest.litellm import apply_litellm_usage
from llmaudit.ingest.openai_common import apply_chat_usage
from llmaudit.ingest.records import RequestRecord


def _record(status: str = "success") -> RequestRecord:
    record = RequestRecord(source_line=1)
    record.status = status
    return record


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 464, "completion_tokens": None, "total_tokens": 652},
    {"prompt_tokens": 464, "total_tokens": 652},
])
def test_openai_output_comes_from_the_total_when_completion_is_not_logged(usage: dict[str, Any]) -> None:
    record = _record()
    apply_chat_usage(record, usage)
    assert (record.input_tokens, record.output_tokens) == (464, 188)


def test_openai_embeddings_usage_has_no_output() -> None:
    record = _record()
    apply_chat_usage(record, {"prompt_tokens": 8, "total_tokens": 8})
    assert record.output_tokens == 0


@pytest.mark.parametrize(("usage", "reason"), [
    ({"prompt_tokens": 464}, "missing completion_tokens"),
    ({"prompt_tokens": 464, "completion_tokens": None}, "missing completion_tokens"),
    ({"prompt_tokens": 464, "total_tokens": 400}, "less than prompt_tokens"),
])
def test_openai_output_that_cannot_be_known_is_rejected(usage: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadValue, match=reason):
        apply_chat_usage(_record(), usage)


@pytest.mark.parametrize("output", [None, "missing"])
def test_anthropic_missing_output_tokens_is_rejected(output: Any) -> None:
    usage: dict[str, Any] = {"input_tokens": 10, "cache_read_input_tokens": 0}
    if output != "missing":
        usage["output_tokens"] = output
    with pytest.raises(BadValue, match="missing usage.output_tokens"):
        apply_usage(_record(), usage)


def test_litellm_missing_completion_is_rejected_unless_the_call_failed() -> None:
    with pytest.raises(BadValue, match="missing completion_tokens"):
        apply_litellm_usage(_record(), "120", "", None)
    failed = _record("error")
    apply_litellm_usage(failed, "120", "", None)
    assert failed.output_tokens == 0


def test_helicone_missing_completion_is_rejected_unless_the_call_failed() -> None:
    with pytest.raises(BadValue, match="missing completion_tokens"):
        column_usage(_record(), {"prompt_tokens": 120, "completion_tokens": None}, anthropic=False)
    failed = _record("error")
    column_usage(failed, {"prompt_tokens": 120}, anthropic=False)
    assert failed.output_tokens == 0


def test_bedrock_missing_output_count_is_rejected_unless_the_call_failed() -> None:
    log = {"input": {"inputTokenCount": 50}, "output": {}}
    with pytest.raises(BadValue, match="missing output.outputTokenCount"):
        apply_tokens(_record(), log, None)
    failed = _record("error")
    apply_tokens(failed, log, None)
    assert (failed.input_tokens, failed.output_tokens) == (50, 0)
