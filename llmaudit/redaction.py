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

SECRET_START = (r"(?:(?<![A-Za-z0-9])|(?<=\\[abfnrtv0])|(?<=\\x[0-9a-fA-F]{2})|(?<=\\u[0-9a-fA-F]{4})"
                r"|(?<=\\U[0-9a-fA-F]{8})|(?<=%[0-9a-fA-F]{2}))")
"""Where a key may start: not inside a word (risk-assessment-framework), but after an escape as JSON, repr() or
a URL writes it (`\\nsk-proj-...`, `\\u200bsk-...`, `?key%3DAIza...`), where a letter or digit stands right
before the key."""

SECRET_PATTERN = re.compile(
    SECRET_START + r"(?:sk-[A-Za-z0-9_\-]{8,}"  # OpenAI and Anthropic (sk-proj-, sk-ant-api03-...), also after key_
    r"|[rs]k_(?:live|test)_[A-Za-z0-9]{10,}"  # Stripe
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_\-]{20,}"  # Google API keys
    r"|ya29\.[0-9A-Za-z_\-]{20,}"  # Google OAuth access tokens
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{20,}"  # GitHub, GitLab tokens
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}|xapp-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face tokens
    r"|(?:gsk|r8|npm)_[A-Za-z0-9]{20,}|pplx-[A-Za-z0-9]{20,}|pypi-AgE[A-Za-z0-9_\-]{20,}"  # Groq, Replicate, npm...
    # JWTs, the header alone too: a payload longer than an excerpt is cut before its second dot.
    r"|eyJ[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]*){0,2})"
    r"|sk-(?:proj|ant|svcacct|admin)-[A-Za-z0-9_\-]{8,}"  # prefixes no word holds: a key even glued to a word
    # Bearer tokens, in any case; not the word in prose: a digit or punctuation in it, or 20 letters and more.
    r"|(?i:bearer)\s+(?:(?=[^\s]*[0-9._~+/=\-])[A-Za-z0-9+/=._\-~]{8,}|[A-Za-z]{20,})"
    # Any authorization header's or key, token, secret or password field's value, in any case, as a header
    # line, JSON, a query string or code (api_key=..., apiKey: ..., "client_secret": "...").
    r"|(?i:(?:proxy-)?authorization|(?:x-)?(?:goog-)?api[_-]?key|(?:access|auth|refresh)[_-]?token"
    r"|(?:client[_-]?)?secret(?:[_-]?key)?|password)[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?i:basic|bearer|token)\s+)?[^\s\"',}&]{4,}"
    # Private keys (PEM and PGP), to their end; and a key whose start an excerpt cut off.
    r"|-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|.*)"
    r"|\A(?:[A-Za-z0-9+/=\s]|\\[nr])*-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----",
    re.DOTALL,
)
"""Secrets that leak into logs (API keys, tokens, private keys); rendered text shows them as [redacted]."""


SECRET_MARKERS = ("sk-", "k_live_", "k_test_", "akia", "asia", "aiza", "ya29.", "ghp_", "gho_", "ghu_", "ghs_",
                  "ghr_", "github_pat_", "glpat-", "xox", "xapp-", "hf_", "gsk_", "r8_", "npm_", "pplx-", "pypi-",
                  "eyj", "bearer", "auth", "key", "token", "secret", "passw", "private key")
"""Case-folded, a piece of text every match of `SECRET_PATTERN` holds: text without any is left as it is
(searching for these is about 10 times faster than the pattern, which tries every position). casefold()
turns the long ſ and the Kelvin sign, which the pattern's any-case names match, into s and k; none holds an
i, since the dotless ı and the dotted İ, which those names match too, fold to no plain i."""


def _has_marker(text: str) -> bool:
    folded = text.casefold()
    return any(marker in folded for marker in SECRET_MARKERS)


def redact_text(text: str) -> str:
    """Log text with every secret in it (`SECRET_PATTERN`) shown as [redacted]: what every output writes."""
    return SECRET_PATTERN.sub("[redacted]", text) if _has_marker(text) else text


SECRET_REACH = 4_000
"""Characters past an excerpt's cut that are redacted with it: a whole 4096-bit RSA key in PEM (~3,300)."""

NO_MARKER_NEEDED = re.compile(r"(?:[A-Za-z0-9+/=\s]|\\[nr])*")
"""Text a key's body may be alone in (no marker): the start of a log text that cut a private key's head off."""


def excerpt(text: str, chars: int, *, tail: bool = False) -> str:
    """The first (`tail`: last) `chars` characters of `text`, redacted before the cut so that no cut shows part of
    a key: `sk-proj-abc` cut to `sk-pr` no longer looks like a key, and `AKIAIOSFODN` is most of one."""
    if chars <= 0:
        return ""
    if tail:
        return redact_text(text[-(chars + SECRET_REACH):])[-chars:]
    shown = text[:chars]
    if len(text) > chars and not NO_MARKER_NEEDED.fullmatch(shown) and not _has_marker(shown):
        # A key that starts inside the opening shows its marker there (the pieces before a marker are fixed
        # text such as "AKI"), so an opening without one shows no part of a key, wherever the cut falls.
        return shown
    return redact_text(text[:chars + SECRET_REACH])[:chars]


def redact_parts(*parts: str) -> list[str]:
    """Consecutive pieces of one text, each redacted as the whole text is: a key that runs across pieces (a
    template's varying span between its static text) is redacted in every piece it touches."""
    whole = "".join(parts)
    found = [match.span() for match in SECRET_PATTERN.finditer(whole)] if _has_marker(whole) else []
    redacted, start = [], 0
    for part in parts:
        end, pieces, cursor = start + len(part), [], start
        for first, last in found:
            if first < end and last > start:
                pieces += [whole[cursor:max(first, start)], "[redacted]"]
                cursor = min(last, end)
        redacted.append("".join(pieces) + whole[cursor:end])
        start = end
    return redacted


def excerpt_expr(column: str, chars: int) -> pl.Expr:
    """`excerpt` of a text column (its first `chars` characters, redacted before the cut), for the few rows shown."""
    import polars as pl  # here: the command line loads this module before polars (ingest/forkserver.py)

    return pl.col(column).str.slice(0, chars + SECRET_REACH).map_elements(
        lambda text: excerpt(text, chars), return_dtype=pl.String, skip_nulls=True)


CONTROL_ESCAPES = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    if code != 0x09
}
"""C0 and C1 controls (ESC starts terminal sequences) and the bidirectional overrides, tab aside, as escapes."""


def inert_text(text: str) -> str:
    """Log text for a terminal or a text file: secrets redacted, control characters shown as escapes (\\x1b)."""
    return redact_text(text).translate(CONTROL_ESCAPES)

