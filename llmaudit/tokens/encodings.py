"""tiktoken encodings loaded offline from the BPE files the `bpe-openai` package ships.

tiktoken downloads its rank files on first use; here nothing may be downloaded. The ranks
come from the installed `bpe_openai` package and are verified against the SHA-256 that
tiktoken's own `tiktoken_ext.openai_public` expects, so a tampered or different file is an
error, never a silently different count.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tiktoken
from tiktoken_ext import openai_public

from llmaudit.errors import LlmAuditError

BPE_PACKAGE = "bpe_openai"
BPE_DATA_DIR = "data"
SHIPPED = {"o200k_base": "o200k_base.tiktoken.gz", "cl100k_base": "cl100k_base.tiktoken.gz"}
PROXY_ENCODING = "o200k_base"
"""Stated proxy for models without a public tokenizer (Claude 3+, Gemini, Llama via hosts); calibrated per model."""

_constructor_lock = threading.Lock()


class TokenizerError(LlmAuditError):
    """An encoding's rank file is missing or does not match tiktoken's expected hash."""


def _bpe_file(name: str) -> Path:
    """The shipped rank file, located without importing bpe_openai (its import has side effects)."""
    spec = importlib.util.find_spec(BPE_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations or name not in SHIPPED:
        raise TokenizerError(f"the {name} BPE file is not installed (package bpe-openai)")
    return Path(locations[0]) / BPE_DATA_DIR / SHIPPED[name]


def _read_ranks(name: str, expected_hash: str | None) -> dict[bytes, int]:
    try:
        packed = _bpe_file(name).read_bytes()
    except OSError as exc:
        raise TokenizerError(f"the {name} BPE file is not readable (package bpe-openai): {exc}") from exc
    contents = gzip.decompress(packed)
    digest = hashlib.sha256(contents).hexdigest()
    if expected_hash is None or digest != expected_hash:
        raise TokenizerError(f"{name}: BPE file hash {digest} does not match tiktoken's expected {expected_hash}")
    fields = contents.split()  # "token rank" lines; the hash above vouches for the layout
    # Mapped in C (binascii is what base64.b64decode calls): half the time of a comprehension, on the import thread.
    return dict(zip(map(binascii.a2b_base64, fields[::2]), map(int, fields[1::2]), strict=True))


@cache
def load_encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, built from tiktoken's own definition with ranks read offline."""
    if name not in SHIPPED:
        raise TokenizerError(f"no offline BPE file for encoding {name!r}; available: {', '.join(SHIPPED)}")
    captured: dict[str, str | None] = {}

    def offline_loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        captured["url"] = url
        return _read_ranks(name, expected_hash)

    # tiktoken's constructor calls the module-level loader; swap it for the offline one while it runs.
    with _constructor_lock:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = offline_loader
        try:
            params = getattr(openai_public, name)()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**params)


@dataclass(frozen=True)
class EncodingChoice:
    """Which encoding counts a model's text, and whether it is the model's real tokenizer."""

    encoding: str
    exact: bool
    """True for OpenAI models with a public tokenizer; False = a proxy to be calibrated."""


CL100K_PREFIXES = ("gpt-4-", "gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada")
O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss", "codex")


def encoding_for_model(model: str | None) -> EncodingChoice:
    """o200k_base for gpt-4o/4.1/5/o-series, cl100k_base for gpt-4/3.5; else the stated proxy."""
    name = (model or "").lower().rsplit("/", 1)[-1]
    if name.startswith(O200K_PREFIXES):
        return EncodingChoice("o200k_base", True)
    if name.startswith(CL100K_PREFIXES):
        return EncodingChoice("cl100k_base", True)
    return EncodingChoice(PROXY_ENCODING, False)
