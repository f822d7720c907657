"""What the outputs may show of log text: never a secret, never a control character.

Every output (terminal, JSON, Markdown, HTML, error lines) passes log text through `redact_text`
(API keys, tokens, authorization headers, private keys); the terminal and Markdown also through
`inert_text`, so a log cannot clear a screen, hide text or plant a link.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

SECRET_START = r"(?:(?<![A-Za-z0-9])|(?<=\\[abfnrtv0])|(?<=\\x[0-9a-fA-F]{2})|(?<=\\u[0-9a-fA-F]{4}))"
"""Where a key may start: not inside a word (risk-assessment-framework), but after an escape as JSON or repr()
writes it (`\\nsk-proj-...`, `\\u200bsk-...`), where a letter or digit stands right before the key."""

SECRET_PATTERN = re.compile(
    SECRET_START + r"(?:sk-[A-Za-z0-9_\-]{8,}"  # OpenAI and Anthropic (sk-proj-, sk-ant-api03-...), also after key_
    r"|[rs]k_(?:live|test)_[A-Za-z0-9]{10,}"  # Stripe
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_\-]{20,}"  # Google API keys
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub tokens
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face tokens
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)"  # JWTs
    r"|sk-(?:proj|ant|svcacct|admin)-[A-Za-z0-9_\-]{8,}"  # prefixes no word holds: a key even glued to a word
    # Bearer tokens, in any case; not the word in prose: a digit or punctuation in it, or 20 letters and more.
    r"|(?i:bearer)\s+(?:(?=[^\s]*[0-9._~+/=\-])[A-Za-z0-9+/=._\-~]{8,}|[A-Za-z]{20,})"
    # Any HTTP authorization or API key header's value, in any case, as a header line or as JSON.
    r"|(?i:(?:proxy-)?authorization|x-api-key|api-key|x-goog-api-key)[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?i:basic|bearer|token)\s+)?[^\s\"',}]{4,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)"  # the key too, to its end
    r"|\A[A-Za-z0-9+/=\s]*-----END [A-Z ]*PRIVATE KEY-----",  # a key whose start an excerpt cut off
    re.DOTALL,
)
"""Secrets that leak into logs (API keys, tokens, private keys); rendered text shows them as [redacted]."""


SECRET_MARKERS = ("sk-", "k_live_", "k_test_", "akia", "asia", "aiza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                  "github_pat_", "xox", "hf_", "eyj", "bearer", "authorization", "api-key", "private key")
"""Lower-cased, a piece of text every match of `SECRET_PATTERN` holds: text without any is left as it is
(searching for these is about 50 times faster than the pattern, which tries every position)."""


def redact_text(text: str) -> str:
    """Log text with every secret in it (`SECRET_PATTERN`) shown as [redacted]: what every output writes."""
    lowered = text.lower()
    if not any(marker in lowered for marker in SECRET_MARKERS):
        return text
    return SECRET_PATTERN.sub("[redacted]", text)


SECRET_REACH = 1_000
"""Characters past an excerpt's cut that are redacted with it: longer than any key the pattern knows but a private one."""


def excerpt(text: str, chars: int, *, tail: bool = False) -> str:
    """The first (`tail`: last) `chars` characters of `text`, redacted before the cut so that no cut shows part of
    a key: `sk-proj-abc` cut to `sk-pr` no longer looks like a key, and `AKIAIOSFODN` is most of one."""
    if tail:
        return redact_text(text[-(chars + SECRET_REACH):])[-chars:] if chars else ""
    return redact_text(text[:chars + SECRET_REACH])[:chars]


def excerpt_expr(column: str, chars: int) -> pl.Expr:
    """`excerpt` of a text column (its first `chars` characters, redacted before the cut), for the few rows shown."""
    import polars as pl  # here: the command line loads this module before polars (ingest/forkserver.py)

    return pl.col(column).str.slice(0, chars + SECRET_REACH).map_elements(
        lambda text: excerpt(text, chars), return_dtype=pl.String, skip_nulls=True)


CONTROL_ESCAPES = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in [*range(0x20), *range(0x7F, 0xA0), 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    if code != 0x09
}
"""C0 and C1 controls (ESC starts terminal sequences) and the bidirectional overrides, tab aside, as escapes."""


def inert_text(text: str) -> str:
    """Log text for a terminal or a text file: secrets redacted, control characters shown as escapes (\\x1b)."""
    return redact_text(text).translate(CONTROL_ESCAPES)

