"""Every built-in log format, registered the way a third-party format would be, and detection."""

from __future__ import annotations

from llmaudit.errors import InputError
from llmaudit.ingest.anthropic_batch import AnthropicBatchReader
from llmaudit.ingest.anthropic_messages import AnthropicMessagesReader
from llmaudit.ingest.bedrock import BedrockReader
from llmaudit.ingest.claude_code import ClaudeCodeReader
from llmaudit.ingest.codex_cli import CodexCliReader
from llmaudit.ingest.coerce import SHAPE_ERRORS
from llmaudit.ingest.container import Sample, sample
from llmaudit.ingest.gemini import GeminiReader
from llmaudit.ingest.helicone import HeliconeReader
from llmaudit.ingest.interface import Reader
from llmaudit.ingest.langfuse import LangfuseReader
from llmaudit.ingest.litellm import LiteLLMPayloadReader, LiteLLMSpendLogsReader
from llmaudit.ingest.openai_batch import OpenAIBatchReader
from llmaudit.ingest.openai_chat import OpenAIChatReader
from llmaudit.ingest.openai_responses import OpenAIResponsesReader
from llmaudit.ingest.openai_usage import OpenAICostsReader, OpenAIUsageReader
from llmaudit.ingest.openrouter import OpenRouterReader
from llmaudit.ingest.source import SourceFile

# One line per format; keep alphabetical by module.
READER_CLASSES: list[type[Reader]] = [
    AnthropicBatchReader,
    AnthropicMessagesReader,
    BedrockReader,
    ClaudeCodeReader,
    CodexCliReader,
    GeminiReader,
    HeliconeReader,
    LangfuseReader,
    LiteLLMSpendLogsReader,
    LiteLLMPayloadReader,
    OpenAIBatchReader,
    OpenAIChatReader,
    OpenAIResponsesReader,
    OpenAIUsageReader,
    OpenAICostsReader,
    OpenRouterReader,
]

MIN_CONFIDENCE = 30


def readers() -> dict[str, Reader]:
    """All registered readers by name."""
    return {cls.name: cls() for cls in READER_CLASSES}


def register(cls: type[Reader]) -> type[Reader]:
    """Add a reader (usable as a decorator by plugins)."""
    if cls not in READER_CLASSES:
        READER_CLASSES.append(cls)
    return cls


def _confidence(reader: Reader, found: Sample) -> int:
    """A reader's sniff score; a sniff that trips over odd content (a plugin's, too) only means "not mine"."""
    try:
        return reader.sniff(found)
    except SHAPE_ERRORS:
        return 0


def detect(source: SourceFile, candidates: dict[str, Reader] | None = None) -> tuple[Reader, Sample]:
    """The reader whose `sniff` is most confident for this file; InputError naming the formats tried."""
    candidates = candidates or readers()
    found = sample(source)
    if found.kind == "empty":
        raise InputError(f"{source.name}: the file is empty")
    scored = sorted(
        ((_confidence(reader, found), name) for name, reader in candidates.items() if found.kind in reader.containers),
        reverse=True,
    )
    if not scored or scored[0][0] < MIN_CONFIDENCE:
        tried = ", ".join(sorted(candidates))
        what = f"{found.kind.upper()} with columns {', '.join(found.columns[:8])}" if found.kind == "csv" else found.kind.upper()
        if not found.records and found.problem and found.kind != "csv":
            # Nothing readable to detect from: the reason is the file's content, not its format.
            raise InputError(f"{source.name}: no readable record ({found.kind.upper()}: {found.problem})")
        raise InputError(
            f"{source.name}: cannot detect the log format ({what}). Formats tried: {tried}. "
            "Use --format NAME, or --format generic with --map for other logs."
        )
    return candidates[scored[0][1]], found
