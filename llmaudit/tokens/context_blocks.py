"""Retrieved context inside the current user message: delimited blocks a RAG app pastes in.

Detected shapes: XML-ish blocks (`<context>`, `<documents>`, `<document>`, `<search_results>`,
`<sources>`...), labelled sections (`Context:` / `Documents:` / `Sources:` up to a
`Question:`/`Query:` label or the end), and numbered source blocks (`[1] ...`, `Source 2:`).
Users add their own regular expressions (each match is context).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

XML_TAGS = ("context", "contexts", "documents", "document", "docs", "search_results", "sources", "retrieved",
            "retrieved_context", "knowledge", "passages", "passage", "chunks", "chunk", "reference", "references")
XML_BLOCK = re.compile(
    r"<(" + "|".join(XML_TAGS) + r")(\s[^>]*)?>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
LABELLED_SECTION = re.compile(
    r"(?:^|\n)[ \t]*(?:#+[ \t]*)?(?:context|documents|retrieved (?:context|documents)|sources|reference documents|"
    r"knowledge base|search results)[ \t]*:?[ \t]*\n?"
    r".*?(?=\n[ \t]*(?:#+[ \t]*)?(?:question|query|user question|task|instructions?|answer)[ \t]*:|\Z)",
    re.IGNORECASE | re.DOTALL,
)
SOURCE_MARKER = re.compile(r"^[ \t]*(?:\[\d{1,3}\]|(?:source|document|doc|chunk|passage) #?\d{1,3}[:.)])", re.IGNORECASE | re.MULTILINE)
MIN_CONTEXT_CHARS = 40
"""Shorter matches ("Context: none") are not retrieved documents."""
LABEL_WORDS = ("context", "documents", "sources", "knowledge base", "search results")
"""A labelled section has one of these (case-folded): most messages have none, and skip the expression."""
MARKER_WORDS = ("source", "doc", "chunk", "passage")
"""A numbered source marker has one of these, or a '['."""


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _numbered_sources(text: str, folded: str) -> list[tuple[int, int]]:
    """From the first of two or more source markers to the end of the last marker's paragraph."""
    if "[" not in text and not any(word in folded for word in MARKER_WORDS):
        return []
    markers = list(SOURCE_MARKER.finditer(text))
    if len(markers) < 2:
        return []
    paragraph_end = text.find("\n\n", markers[-1].end())
    return [(markers[0].start(), len(text) if paragraph_end < 0 else paragraph_end)]


def context_spans(text: str, extra_patterns: tuple[re.Pattern[str], ...] = ()) -> list[tuple[int, int]]:
    """Character spans of retrieved context in a user message, merged and sorted.

    Each expression runs only on a text holding its words: under IGNORECASE a letter of them matches
    exactly the characters that case-fold to it (checked over all of Unicode in the tests).
    """
    spans = [m.span() for m in XML_BLOCK.finditer(text)] if "<" in text else []
    folded = text.casefold()
    if not spans and any(word in folded for word in LABEL_WORDS):
        spans = [m.span() for m in LABELLED_SECTION.finditer(text)]
    if not spans:
        spans = _numbered_sources(text, folded)
    for pattern in extra_patterns:
        spans.extend(m.span() for m in pattern.finditer(text))
    return [(s, e) for s, e in _merge(spans) if e - s >= MIN_CONTEXT_CHARS]


def context_text(text: str, extra_patterns: tuple[re.Pattern[str], ...] = ()) -> str:
    """The retrieved-context part of a message ('' when none): the spans joined by newlines."""
    return spans_text(text, context_spans(text, extra_patterns))


def spans_text(text: str, spans: list[tuple[int, int]]) -> str:
    """The given spans of a message, joined by newlines (`context_text` of spans found already)."""
    return "\n".join(text[s:e] for s, e in spans)


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """User-configured context patterns, compiled (DOTALL, case-insensitive)."""
    return tuple(re.compile(p, re.IGNORECASE | re.DOTALL) for p in patterns)
