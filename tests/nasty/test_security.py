"""Log text is hostile: it is escaped wherever it is rendered, secrets in it are never shown, paths in it
are never opened, and the store that keeps it is readable by its owner only."""

from __future__ import annotations

import builtins
import io
import json
import os
import pathlib
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmaudit.analyses.volatile_prefix import SpanTemplate
from llmaudit.cli import app
from llmaudit.ingest.anthropic_batch import result_record
from llmaudit.ingest.coerce import BadValue, to_int
from llmaudit.redaction import SECRET_MARKERS, SECRET_PATTERN, excerpt, inert_text, redact_text
from llmaudit.table import redact_key
from tests.nasty import corpus

SECRETS = {
    "openai": "sk-proj-Abc123def456GHI789jkl012MNO345pqr678STU901vwx",
    "anthropic": "sk-ant-api03-Zyx987wvu654TSR321qpo098NML765kji432HGF-_a1b2c3AA",
    "bearer": "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "jwt": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJhY21lIiwic3ViIjoiYm90In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "google": "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    "github": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "github_pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV",
    "slack": "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "huggingface": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "stripe": "sk_live_51HqLyjWDarjtT1zdp7dcXYZabc",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
                   "-----END RSA PRIVATE KEY-----",
    "basic_auth": "Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "auth_header": "Authorization: Bearer abc.def.ghi-short",
    "auth_lowercase": "authorization: basic dXNlcjpzM2NyZXRwYXNzd29yZA==",
    "auth_as_json": '{"Authorization": "Basic YWRtaW46aHVudGVyMjIyMg=="}',
    "bearer_letters_only": "bearer abcdefghijklmnopqrstuvwxyzSECRETletters",
    "key_after_a_word": "key_sk-proj-Qwe123rty456UIO789pas012DFG345hjk",
    "azure_api_key_header": "api-key: 5f0c2a9e7b1d4c3e8a6f9b2d1e0c7a4b",
    "after_a_json_escape": r'{"result": "config:\nsk-Rty123uio456PAS789dfg012"}',
    "glued_to_a_word": "tokensk-proj-Qwe123rty456UIO789pas012DFG345hjk",
    "header_with_a_dotless_i": "Authorızation: Basic dXNlcjpzM2NyZXRwYXNzd29yZA==",
    "field_with_a_long_s": '{"paſſword": "Rty123uio456PAS789dfg012"}',
    "api_key_field": "api_key=5f0c2a9e7b1d4c3e8a6f9b2d1e0c7a4b",
    "camel_case_field": 'apiKey: "Zq81Lm02Xy93Wv47Ut56"',
    "password_field": '{"password": "correct-horse-battery-staple"}',
    "url_encoded": "https://maps.example/api?key%3DAIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    "pgp_private_key": "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQdGBF4qFqIBEAC7w8Ymq0x1Yzn5Pq3vU2Lw\n"
                       "-----END PGP PRIVATE KEY BLOCK-----",
    "long_jwt": "eyJhbGciOiJSUzI1NiJ9.eyJ" + "cm9sZXMiOlsiYWRtaW4iXX0" * 60 + ".c2lnbmF0dXJl",
    "groq": "gsk_8Xq2LmN4pR6sT8vW0yZ1aB3cD5eF7gH9",
    "gitlab": "glpat-Ab12Cd34Ef56Gh78Ij90",
    "google_oauth": "ya29.a0AfH6SMBx7Yq2Lm04Np6Rs8Tu",
}
MARKUP = {
    "script": "<script>alert(1)</script>",
    "code_break": "</code><img src=x onerror=alert(2)>",
    "md_link": "[click me](https://evil.example/steal)",
    "md_image": "![x](https://evil.example/pixel.png)",
    "autolinks": " @octocat cc @acme/security-team see www.evil.example or mail bob@evil.example ",
    "terminal_escape": "\x1b[2J\x1b[8mhidden\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\u202e",
}
RICH_MARKUP = "[bold red]pwned[/]"


def _chat_records() -> list[dict[str, Any]]:
    """Real OpenAI chat log records whose text fields carry markup and secrets."""
    seed = corpus.load_seed(corpus.VARIANTS_BY_NAME["openai_chat"])
    system = (f"You are the support bot. {MARKUP['script']} Use key {SECRETS['openai']} and {SECRETS['aws']} "
              f"{SECRETS['private_key']} {MARKUP['code_break']}")
    records = []
    for number in range(1, 5):
        record = seed.copy_of(number)
        record["request"]["messages"][0]["content"] = system
        record["request"]["messages"][1]["content"] = (
            f"My token is {SECRETS['bearer']} {MARKUP['md_link']} {SECRETS['github']} {SECRETS['slack']} "
            f"{SECRETS['basic_auth']} {SECRETS['auth_header']} {SECRETS['auth_lowercase']} {SECRETS['auth_as_json']} "
            f"{SECRETS['bearer_letters_only']} {SECRETS['key_after_a_word']} {SECRETS['azure_api_key_header']}"
        )
        record["feature"] = f"support{MARKUP['script']}{MARKUP['md_link']}{SECRETS['google']}{MARKUP['terminal_escape']}"
        record["user"] = f"{RICH_MARKUP} {SECRETS['jwt']}"
        record["metadata"]["team"] = f"{MARKUP['code_break']} {SECRETS['huggingface']}"
        if number >= 3:
            # An unknown model: listed by name in every output.
            record["request"]["model"] = record["response"]["model"] = (
                f"acme{MARKUP['autolinks']}{MARKUP['md_image']}{MARKUP['script']}{SECRETS['github_pat']}{MARKUP['terminal_escape']}"
            )
        records.append(record)
    failed = seed.copy_of(5)
    failed["response"] = {"error": {"code": f"{MARKUP['script']}", "message": f"Incorrect API key {SECRETS['openai']}"}}
    failed["status_code"] = 401
    rejected = seed.copy_of(6)
    rejected["response"]["usage"]["prompt_tokens"] = f"{MARKUP['script']}{SECRETS['anthropic']}"
    rejected_stripe = seed.copy_of(7)
    rejected_stripe["response"]["usage"]["prompt_tokens"] = f"{SECRETS['stripe']}"
    return [*records, failed, rejected, rejected_stripe]


def _litellm_records() -> list[dict[str, Any]]:
    """Real LiteLLM spend-log rows whose api_key column holds raw keys instead of hashes."""
    seed = corpus.load_seed(corpus.VARIANTS_BY_NAME["litellm_spendlogs"])
    rows = []
    for number, secret in enumerate((SECRETS["openai"], SECRETS["anthropic"], SECRETS["bearer"]), start=1):
        row = seed.copy_of(number)
        row["api_key"] = secret
        rows.append(row)
    return rows


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def hostile_run(tmp_path: Path) -> dict[str, Any]:
    """One run over the hostile logs, writing every output; the terminal summary is printed (not -q)."""
    chat = _write_jsonl(tmp_path / "chat.jsonl", _chat_records())
    gateway = _write_jsonl(tmp_path / "spend.jsonl", _litellm_records())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["analyze", str(chat), str(gateway), "--json", str(out / "audit.json"), "--html", str(out / "report.html"),
         "--md", str(out / "summary.md"), "--db", str(out / "store.duckdb")],
        env={"COLUMNS": "1000"},  # no wrapping: a secret split over two lines would slip past the checks
    )
    assert result.exit_code == 0, result.output
    return {
        "terminal": result.output,
        "html": (out / "report.html").read_text(encoding="utf-8"),
        "markdown": (out / "summary.md").read_text(encoding="utf-8"),
        "json": json.loads((out / "audit.json").read_text(encoding="utf-8")),
        "store": out / "store.duckdb",
    }


def _secret_leaks(text: str) -> list[str]:
    """The secrets (or a telling piece of one) that appear in a rendered text."""
    leaks = []
    for name, secret in SECRETS.items():
        pieces = [piece[-12:] for piece in secret.split() if len(piece) >= 12 and not piece.startswith("Author")]
        if secret in text or any(piece in text for piece in pieces):
            leaks.append(name)
    return leaks


@pytest.mark.parametrize("output", ["terminal", "html", "markdown", "json"])
def test_no_secret_is_printed_or_rendered(hostile_run: dict[str, Any], output: str) -> None:
    text = hostile_run[output] if output != "json" else json.dumps(hostile_run[output], ensure_ascii=False)
    assert _secret_leaks(text) == []


def test_log_markup_is_escaped_in_html(hostile_run: dict[str, Any]) -> None:
    html = hostile_run["html"]
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert MARKUP["code_break"] not in html
    assert "&lt;script&gt;" in html, "the log text is shown, escaped"


def test_log_markup_is_escaped_in_markdown(hostile_run: dict[str, Any]) -> None:
    markdown = hostile_run["markdown"]
    for name in ("script", "code_break", "md_link", "md_image"):
        assert MARKUP[name] not in markdown, name
    assert "](https://evil.example" not in markdown
    # No notification, no link in a pull-request comment: GitHub links bare addresses and @names too.
    for live in ("@octocat", "@acme", "https://evil", "www.evil", "@evil.example"):
        assert live not in markdown, live
    assert "octocat" in markdown, "the log text is shown, made inert"
    assert "<img" not in markdown and "<script" not in markdown


@pytest.mark.parametrize("output", ["terminal", "markdown"])
def test_log_control_characters_never_reach_a_terminal(hostile_run: dict[str, Any], output: str) -> None:
    """ESC (screen clearing, hidden text, hyperlinks) and bidi overrides in log text are shown as escapes."""
    text = hostile_run[output]
    assert "\x1b" not in text and "\u202e" not in text
    assert "x1b" in text, "the log text is shown, escaped"


def test_log_markup_is_literal_in_the_terminal(hostile_run: dict[str, Any]) -> None:
    terminal = hostile_run["terminal"]
    # Rich markup in a user name is printed as typed, not interpreted (and "[/]" does not crash the run).
    assert RICH_MARKUP in terminal


def test_money_problems_are_visible_in_every_output(hostile_run: dict[str, Any]) -> None:
    """The unknown model, the failed request and the rejected records are in every output."""
    data = hostile_run["json"]
    assert data["pricing"]["unknown_models"] and data["pricing"]["unknown_models"][0]["requests"] == 2
    assert data["summary"]["failed_requests"] == 1
    assert data["ingest"]["rejected"] == 2
    for output in ("terminal", "html", "markdown"):
        text = hostile_run[output]
        assert "acme" in text, f"{output}: unknown model not named"
        assert "failed" in text, f"{output}: failed requests not shown"
        assert "2 rejected" in text or "2 records rejected" in text, f"{output}: rejections not shown"
    assert "unpriced model" in hostile_run["terminal"]
    assert "Not included in the totals" in hostile_run["html"]
    assert "Not priced" in hostile_run["markdown"]


def _walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)
    else:
        yield key, value


def test_api_keys_are_never_stored_raw(hostile_run: dict[str, Any]) -> None:
    keys = [value for name, value in _walk(hostile_run["json"]) if "api_key" in name.lower()]
    assert not _secret_leaks(json.dumps(keys))
    with duckdb.connect(str(hostile_run["store"]), read_only=True) as con:
        stored = [row[0] for row in con.execute("SELECT api_key FROM requests WHERE api_key IS NOT NULL").fetchall()]
    assert len(stored) == 3 and all(key.startswith("key-") for key in stored), stored
    assert not _secret_leaks(" ".join(stored))


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secret_pattern_covers_common_key_shapes(name: str) -> None:
    assert SECRET_PATTERN.search(SECRETS[name]), name
    assert redact_key(SECRETS[name]) != SECRETS[name]


@pytest.mark.parametrize("text", [
    "task-management", "disk-usage-report", "gpt-4o-mini", "claude-sonnet-4-5", "Basic plan", "github_user",
    "Basic instructions for the bot", "Bearer authentication explained",
    "hf_hub", "AKIA", "ask-me-anything-bot", "eyJ", "openai/gpt-4o", "88dc28d0f030c55ed4ab77ed8faf0981",
])
def test_secret_pattern_leaves_ordinary_text(text: str) -> None:
    assert not SECRET_PATTERN.search(text), text


@pytest.mark.parametrize("glue", ["\n", "\t", "\r", "\x00", "\xa0", "\u200b", "\U0001f600"])
def test_a_rejection_reason_never_shows_a_key_after_an_escape(glue: str) -> None:
    """Reasons quote the bad value as repr() does: the escape it writes (\\n, \\u200b) ends in a letter or digit."""
    for secret in (SECRETS["openai"], SECRETS["aws"], "sk-Rty123uio456PAS789dfg012"):
        with pytest.raises(BadValue) as caught:
            to_int(f"{glue}{secret}", "prompt_tokens")
        assert secret[-8:] not in redact_text(str(caught.value)), caught.value
        assert secret[-8:] not in inert_text(str(caught.value))


@pytest.mark.parametrize("glue", ["\U000e0001", "%0A", "\\n"])
def test_an_unknown_batch_result_type_is_quoted_without_its_key(glue: str) -> None:
    line = {"custom_id": "request-1", "result": {"type": f"{glue}{SECRETS['aws']}"}}
    with pytest.raises(BadValue) as caught:
        result_record(3, line)
    assert SECRETS["aws"][4:] not in inert_text(str(caught.value)), caught.value


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_an_excerpt_cut_inside_a_key_shows_none_of_it(name: str) -> None:
    """An excerpt is redacted before it is cut: the cut never leaves part of a key that no longer looks like one."""
    before, after = "Note: ", " and the rest of the prompt."
    text, redacted = before + SECRETS[name] + after, redact_text(before + SECRETS[name] + after)
    assert "[redacted]" in redacted and SECRETS[name][-6:] not in redacted
    folded = SECRETS[name].casefold()
    # Up to its telltale piece (sk-, AKIA, Bearer), a key is fixed text: an opening cut before it may show it.
    telltale = min(folded.find(marker) + len(marker) for marker in SECRET_MARKERS if marker in folded)
    for cut in range(len(before) + 1, len(before) + len(SECRETS[name])):
        shown = excerpt(text, cut)
        assert shown == redacted[:cut] or (shown == text[:cut] and cut - len(before) < telltale), (cut, shown)
    for cut in range(len(after) + 1, len(after) + len(SECRETS[name])):
        assert excerpt(text, cut, tail=True) == redacted[-cut:], cut


PIECES = ["sk-", "SK-", "proj-", "ant-", "k_live_", "rk_test_", "AKIA", "ASIA", "AIza", "ghp_", "github_pat_", "xoxb-",
          "hf_", "eyJ", ".", "Bearer ", "bEaReR\t", "Authorization", "x-api-key", "API-KEY", ": ", "=", '"', "'",
          "-----BEGIN RSA PRIVATE KEY-----", "-----END PRIVATE KEY-----", "\\n", "\\u200b", "\n", " ", "key_"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.sampled_from(sorted(SECRETS.values())), st.text(alphabet="abcXYZ019_-+/=", min_size=1, max_size=30)),
                max_size=12))
def test_the_quick_look_for_a_key_never_skips_one(parts: list[str]) -> None:
    """`redact_text` runs the pattern only on text holding a telltale piece: it must redact what the pattern does."""
    text = "".join(parts)
    assert redact_text(text) == SECRET_PATTERN.sub("[redacted]", text)


@pytest.mark.parametrize(("prefix", "spans", "suffix"), [
    ("Call the API with Authorization: Bearer ", ("tokKdNn1x2y3", "tokQ9w8e7r6t"), " and answer briefly."),
    ("-----BEGIN EC PRIVATE KEY-----\n", ("MHcCAQEEIIGlRm", "MHcCAQEEIJ7pQs"), "\n-----END EC PRIVATE KEY-----\nHelp."),
    # A service account's JSON pasted as text: the key's line breaks are \\n escapes.
    ('Credentials: {"private_key": "-----BEGIN PRIVATE KEY-----\\n' + "A" * 2_000, ("Zx81", "Qw27"),
     '\\n-----END PRIVATE KEY-----\\n", "client_email": "bot@acme.example"}'),
])
def test_a_varying_span_is_redacted_as_its_whole_prompt_is(prefix: str, spans: tuple[str, ...], suffix: str) -> None:
    """A key whose telltale piece is static text and whose body varies: neither span nor template shows it."""
    template = SpanTemplate("openai", "gpt-4o", None, "g", ("h",), 10, prefix, suffix, spans, "token", 1.0, 1.0)
    shown = [template.template(), *template.shown_examples()]
    for span in spans:
        assert not any(span in text for text in shown), shown
    assert "A" * 30 not in template.template()


def test_store_and_its_wal_are_private(tmp_path: Path) -> None:
    """The store holds prompts: the file and its write-ahead log are created 0600 whatever the umask."""
    from llmaudit.store import Store
    from llmaudit.table import TableBuilder

    seed = corpus.load_seed(corpus.VARIANTS_BY_NAME["openai_chat"])
    log = _write_jsonl(tmp_path / "chat.jsonl", [seed.copy_of(1), seed.copy_of(2)])
    db = tmp_path / "private" / "store.duckdb"
    old_umask = os.umask(0o022)
    try:
        result = CliRunner().invoke(app, ["analyze", str(log), "--db", str(db), "-q"])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        # The WAL only exists while a connection holds unflushed writes: look at it then.
        store = Store(db)
        try:
            builder = TableBuilder()
            from llmaudit.ingest.records import Message, RequestRecord

            builder.add(RequestRecord(source_line=1, request_id="wal-check", model="gpt-4o", input_tokens=1,
                                      output_tokens=1, messages=[Message("user", "a prompt")]), "test", "test")
            store.write(builder.requests_frame(), builder.messages_frame(), builder.texts_frame())
            wal = db.with_name(db.name + ".wal")
            assert wal.exists()
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        finally:
            store.close()
    finally:
        os.umask(old_umask)


def test_paths_in_logs_are_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File paths logged as prompts, file parts, image URLs, tool inputs or metadata are text, never files to read."""
    target = tmp_path / "never-open-me.txt"
    target.write_text("private")
    forbidden = {str(target), "/etc/passwd", "/etc/shadow"}
    seed = corpus.load_seed(corpus.VARIANTS_BY_NAME["openai_chat"])
    records = []
    for number, text in enumerate([str(target), "/etc/passwd", f"file://{target}", "../../../../etc/shadow"], start=1):
        record = seed.copy_of(number)
        record["request"]["messages"][1]["content"] = [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": f"file://{target}"}},
            {"type": "file", "file": {"file_path": str(target), "filename": "/etc/passwd"}},
        ]
        record["metadata"]["file"] = text
        record["feature"] = str(target)
        records.append(record)
    claude = corpus.load_seed(corpus.VARIANTS_BY_NAME["claude_code"]).copy_of(1)
    claude["message"]["content"][0]["input"] = {"file_path": str(target)}
    claude["cwd"] = str(tmp_path)
    log = _write_jsonl(tmp_path / "chat.jsonl", records)
    transcript = _write_jsonl(tmp_path / "transcript.jsonl", [claude])

    attempts: list[str] = []

    def guard(opener: Any) -> Any:
        def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
            name = os.fsdecode(file) if isinstance(file, str | bytes | os.PathLike) else ""
            if name and (name in forbidden or Path(name).resolve() == target):
                attempts.append(name)
                raise PermissionError(f"test: {name} must not be opened")
            return opener(file, *args, **kwargs)

        return guarded

    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    monkeypatch.setattr(io, "open", guard(io.open))
    monkeypatch.setattr(os, "open", guard(os.open))
    path_open = pathlib.Path.open
    monkeypatch.setattr(pathlib.Path, "open", lambda self, *a, **k: guard(lambda f, *a2, **k2: path_open(self, *a2, **k2))(
        str(self), *a, **k))

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["analyze", str(log), str(transcript), "--json", str(out / "audit.json"),
                                      "--html", str(out / "report.html"), "--md", str(out / "summary.md"),
                                      "--db", str(out / "store.duckdb")])
    assert result.exit_code == 0, result.output
    assert attempts == []
    data = json.loads((out / "audit.json").read_text())
    assert data["ingest"]["requests"] == 5


def test_error_lines_never_show_a_secret(tmp_path: Path) -> None:
    """The one-line error of an unreadable file quotes what it saw: a key in its header or its name is redacted."""
    settings = tmp_path / "settings.txt"
    settings.write_text(f"OPENAI_API_KEY={SECRETS['openai']}\nDEBUG=1\n")
    named = tmp_path / f"export-{SECRETS['openai']}.csv"
    named.write_text("a,b\n1,2\n")
    for path in (settings, named):
        result = CliRunner().invoke(app, ["analyze", str(path), "--db", ":memory:"], env={"COLUMNS": "1000"})
        assert result.exit_code == 2, result.output
        assert "[redacted]" in result.output and _secret_leaks(result.output) == [], result.output
