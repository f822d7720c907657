"""Retrieved context detected inside user messages."""

from __future__ import annotations

import pytest

from llmaudit.tokens.context_blocks import compile_patterns, context_text

DOC = "Refunds are processed within five business days after the return is approved by our team."


@pytest.mark.parametrize("message", [
    f"Use the documents.\n<documents>\n<document index='1'>{DOC}</document>\n</documents>\nQuestion: how long?",
    f"<context>{DOC}</context>\n\nHow long do refunds take?",
    f"Context:\n{DOC}\n\nQuestion: how long do refunds take?",
    f"## Retrieved documents:\n{DOC}\nQuery: refunds?",
    f"[1] {DOC}\n[2] Store credit is issued immediately when the customer prefers it.\n\nHow long?",
    f"Source 1: {DOC}\nSource 2: Store credit is issued immediately.\n\nHow long?",
])
def test_detected(message: str) -> None:
    found = context_text(message)
    assert DOC in found
    assert "how long" not in found.lower()


@pytest.mark.parametrize("message", [
    "What is the context of this sentence?",
    "Context: none",
    "[1] only one numbered line here, which is not a list of sources at all",
])
def test_not_context(message: str) -> None:
    assert context_text(message) == ""


def test_user_patterns() -> None:
    patterns = compile_patterns([r"=== KB ===.*?=== END ==="])
    message = f"=== KB ===\n{DOC}\n=== END ===\nAnswer briefly."
    assert DOC in context_text(message, patterns)
