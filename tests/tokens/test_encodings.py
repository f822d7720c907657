"""Offline encodings: no network, hash-verified ranks, the model -> encoding map."""

from __future__ import annotations

import gzip
import socket
from pathlib import Path

import pytest

from llmaudit.tokens import encodings
from llmaudit.tokens.encodings import TokenizerError, encoding_for_model, load_encoding


def test_loads_with_network_blocked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-cache"))
    load_encoding.cache_clear()
    try:
        o200k = load_encoding("o200k_base")
        cl100k = load_encoding("cl100k_base")
    finally:
        load_encoding.cache_clear()
    # Known token ids: "hello world" in o200k_base and cl100k_base.
    assert o200k.encode_ordinary("hello world") == [24912, 2375]
    assert cl100k.encode_ordinary("hello world") == [15339, 1917]
    assert o200k.n_vocab > 199_000


def test_tampered_rank_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = encodings._bpe_file("cl100k_base")
    tampered = tmp_path / "cl100k_base.tiktoken.gz"
    tampered.write_bytes(gzip.compress(gzip.decompress(real.read_bytes()).replace(b" 0\n", b" 1\n", 1)))
    monkeypatch.setattr(encodings, "_bpe_file", lambda name: tampered)
    load_encoding.cache_clear()
    try:
        with pytest.raises(TokenizerError, match="does not match"):
            load_encoding("cl100k_base")
    finally:
        load_encoding.cache_clear()


def test_unknown_encoding() -> None:
    with pytest.raises(TokenizerError):
        load_encoding("p50k_base")


@pytest.mark.parametrize(("model", "encoding", "exact"), [
    ("gpt-4o-mini-2024-07-18", "o200k_base", True),
    ("gpt-4.1", "o200k_base", True),
    ("gpt-5-nano", "o200k_base", True),
    ("o3-mini-2025-01-31", "o200k_base", True),
    ("openai/gpt-4o", "o200k_base", True),
    ("gpt-4-turbo", "cl100k_base", True),
    ("gpt-3.5-turbo-0125", "cl100k_base", True),
    ("claude-sonnet-4-5", "o200k_base", False),
    ("gemini-2.5-pro", "o200k_base", False),
    (None, "o200k_base", False),
])
def test_model_to_encoding(model: str | None, encoding: str, exact: bool) -> None:
    choice = encoding_for_model(model)
    assert (choice.encoding, choice.exact) == (encoding, exact)
