"""Retrieved context detected inside user messages."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaudit.tokens import context_blocks as cb
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


def _spans_without_shortcuts(text: str) -> list[tuple[int, int]]:
    """context_spans with every expression run on every text (no word check first)."""
    spans = [m.span() for m in cb.XML_BLOCK.finditer(text)]
    if not spans:
        spans = [m.span() for m in cb.LABELLED_SECTION.finditer(text)]
    if not spans:
        markers = list(cb.SOURCE_MARKER.finditer(text))
        if len(markers) >= 2:
            end = text.find("\n\n", markers[-1].end())
            spans = [(markers[0].start(), len(text) if end < 0 else end)]
    return [(s, e) for s, e in cb._merge(spans) if e - s >= cb.MIN_CONTEXT_CHARS]


PIECES = st.sampled_from([
    "Context:", "CONTEXT", "conteXt", "Sources:", "ſources:", "Knowledge Base:", "search results", "Documents",
    "<context>", "</context>", "<Documents id=1>", "</documents>", "[1]", "[2] ", "Source 1:", "doc 2.", "Chunk #3)",
    "passage 4:", "Question:", "query:", "\n", "\n\n", " ", "#", "lorem ipsum dolor sit amet ", "é", "İ", "ß",
]) | st.text(max_size=12)


LABEL_EXAMPLES = ["Context", "ConteXT", "Sources", "ſources", "KNOWLEDGE BASE", "Search Results", "Documents",
                  "Retrieved context", "Reference documents", "Source 1", "[1]", "Passage 2", "Doc 3", "Chunk 4"]
LABELS = st.sampled_from(LABEL_EXAMPLES)
SECTIONS = st.lists(st.tuples(st.sampled_from(["", "\n", "\n## ", "\n\n"]), LABELS, st.sampled_from([":", ".", ")", "", ":\n"]),
                              st.sampled_from(["", "lorem ipsum dolor sit amet, consectetur adipiscing elit " * 2])),
                    min_size=1, max_size=4).map(lambda parts: "".join("".join(part) for part in parts))


REPEATED = st.tuples(LABELS, st.integers(min_value=1, max_value=3)).map(
    lambda pick: "\n".join(f"{pick[0]}: lorem ipsum dolor sit amet, consectetur" for _ in range(pick[1])) + "\n\nWhy?")


@given(st.lists(PIECES, max_size=25).map("".join) | SECTIONS | REPEATED)
def test_word_checks_change_nothing(text: str) -> None:
    assert cb.context_spans(text) == _spans_without_shortcuts(text)


@pytest.mark.parametrize("label", LABEL_EXAMPLES)
@pytest.mark.parametrize("count", [1, 2])
def test_each_label_alone(label: str, count: int) -> None:
    text = "\n".join(f"{label}: lorem ipsum dolor sit amet, consectetur" for _ in range(count)) + "\n\nWhy?"
    assert cb.context_spans(text) == _spans_without_shortcuts(text)
    assert cb.context_spans(text.upper()) == _spans_without_shortcuts(text.upper())


def test_the_words_ignorecase_matches_are_their_case_folds() -> None:
    """The word checks compare case-folded text: every character the expressions match under
    IGNORECASE for a letter of the words must case-fold to that letter (else a check could skip a match)."""
    letters = set("".join(cb.LABEL_WORDS + cb.MARKER_WORDS)) - {" "}
    for letter in letters:
        pattern = re.compile(re.escape(letter), re.IGNORECASE)
        for point in range(sys.maxunicode + 1):
            char = chr(point)
            if not 0xD800 <= point <= 0xDFFF and pattern.fullmatch(char):
                assert char.casefold() == letter, (letter, char)
