"""The generic reader: mappings from flags and files, sniffing, and records from CSV and JSONL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmaudit.errors import ConfigError
from llmaudit.ingest.container import iter_records, sample
from llmaudit.ingest.generic import CANONICAL_FIELDS, GenericReader, load_mapping_file, parse_mapping
from llmaudit.ingest.pipeline import Ingestor
from llmaudit.ingest.records import Rejection, RequestRecord
from llmaudit.ingest.source import SourceFile
from llmaudit.table import TableBuilder, shown_id

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "generic"
CSV_MAP = (
    "request_id=call_id,ts=created,model=llm,provider=vendor,input_tokens=tokens_in,cache_read_tokens=tokens_cached,"
    "output_tokens=tokens_out,cost_reported_usd=cost,feature=app,user_id=customer,status=outcome,temperature=temp,"
    "prompt=prompt_text,output_text=answer"
)
JSONL_MAP = {
    "request_id": "trace", "ts": "at", "model": "llm.name", "provider": "llm.vendor", "input_tokens": "usage.in",
    "cache_read_tokens": "usage.cached", "output_tokens": "usage.out", "reasoning_tokens": "usage.reasoning",
    "feature": "tags.app", "team": "tags.team", "status": "ok", "error_type": "error", "system_prompt": "io.system",
    "prompt": "io.question", "output_text": "io.answer",
}


def _parse(path: Path, mapping: dict[str, str]) -> dict[int, RequestRecord | Rejection]:
    source = SourceFile(path.name, path)
    found = sample(source)
    records = ((line, raw) for line, raw in iter_records(source, found.kind) if isinstance(raw, dict))
    out: dict[int, RequestRecord | Rejection] = {}
    for item in GenericReader(mapping).parse(records):
        assert isinstance(item, RequestRecord | Rejection)
        out[item.source_line if isinstance(item, RequestRecord) else item.line] = item
    return out


def test_parse_mapping_reads_flag_pairs() -> None:
    assert parse_mapping(" model=llm, input_tokens = tokens_in,ts=created,") == {
        "model": "llm", "input_tokens": "tokens_in", "ts": "created",
    }


def test_parse_mapping_names_the_unknown_field_and_lists_valid_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mapping("model=llm,tokens=tok")
    message = str(caught.value)
    assert "tokens" in message
    assert all(name in message for name in CANONICAL_FIELDS)


@pytest.mark.parametrize("spec", ["model", "model=", ""])
def test_parse_mapping_rejects_malformed_pairs(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_mapping(spec)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("map.toml", '[map]\nmodel = "llm"\ninput_tokens = "usage.in"\n'),
        ("flat.toml", 'model = "llm"\ninput_tokens = "usage.in"\n'),
        ("map.json", '{"model": "llm", "input_tokens": "usage.in"}'),
    ],
)
def test_load_mapping_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert load_mapping_file(path) == {"model": "llm", "input_tokens": "usage.in"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[map]\nmodle = "llm"\n', "modle"),
        ("model = 3\n", "model"),
        ("not toml = = \n", "invalid mapping file"),
    ],
)
def test_load_mapping_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_mapping_file(path)


def test_load_mapping_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_mapping_file(tmp_path / "absent.toml")


def test_sniff_csv_needs_every_mapped_required_column() -> None:
    found = sample(SourceFile("calls.csv", ASSETS / "calls.csv"))
    assert GenericReader(parse_mapping(CSV_MAP)).sniff(found) == 100
    assert GenericReader({"model": "llm", "input_tokens": "prompt_tokens"}).sniff(found) == 0
    # Required fields not mapped: the mapped columns themselves must be there.
    assert GenericReader({"feature": "app"}).sniff(found) == 100


def test_sniff_jsonl_follows_dotted_paths() -> None:
    found = sample(SourceFile("calls.jsonl", ASSETS / "calls.jsonl"))
    assert GenericReader(JSONL_MAP).sniff(found) == 100
    assert GenericReader({**JSONL_MAP, "output_tokens": "usage.completion"}).sniff(found) == 0


def test_csv_records() -> None:
    parsed = _parse(ASSETS / "calls.csv", parse_mapping(CSV_MAP))
    first = parsed[2]
    assert isinstance(first, RequestRecord)
    assert (first.request_id, first.model, first.provider, first.feature, first.user_id) == (
        "c-001", "gpt-4o-mini", "openai", "support-bot", "u-17",
    )
    assert first.ts == datetime(2025, 9, 2, 10, 15, 3, tzinfo=UTC)
    assert (first.input_tokens, first.cache_read_tokens, first.output_tokens) == (1830, 1664, 112)
    assert first.cost_reported_usd == pytest.approx(0.000432)
    assert first.temperature == 0.3
    assert [(m.role, m.text) for m in first.messages] == [("user", "How do I reset my password?")]
    assert first.output_text == 'Open Settings, then Security, then choose "Reset password".'
    classifier = parsed[3]
    assert isinstance(classifier, RequestRecord) and classifier.user_id is None and classifier.output_text == "billing"


def test_csv_failed_call_keeps_zero_tokens() -> None:
    failed = _parse(ASSETS / "calls.csv", parse_mapping(CSV_MAP))[5]
    assert isinstance(failed, RequestRecord)
    assert (failed.status, failed.error_type, failed.input_tokens, failed.output_tokens) == ("error", "http_429", 0, 0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [(6, "negative"), (7, "missing model"), (8, "before 2015"), (9, "exceed input_tokens")],
)
def test_csv_bad_rows_are_rejected_with_reasons(line: int, reason: str) -> None:
    rejected = _parse(ASSETS / "calls.csv", parse_mapping(CSV_MAP))[line]
    assert isinstance(rejected, Rejection)
    assert reason in rejected.reason


def test_jsonl_records_with_dotted_paths() -> None:
    parsed = _parse(ASSETS / "calls.jsonl", JSONL_MAP)
    rag = parsed[1]
    assert isinstance(rag, RequestRecord)
    assert (rag.model, rag.feature, rag.team, rag.input_tokens, rag.cache_read_tokens) == ("gpt-4.1", "docs-qa", "search", 5120, 4096)
    assert rag.ts == datetime.fromtimestamp(1756808103, UTC)
    assert [m.role for m in rag.messages] == ["system", "user"]
    reasoning = parsed[2]
    assert isinstance(reasoning, RequestRecord) and reasoning.reasoning_tokens == 1216
    failed = parsed[3]
    assert isinstance(failed, RequestRecord)
    assert (failed.status, failed.error_type, failed.input_tokens) == ("error", "rate_limit_exceeded", 0)
    assert isinstance(parsed[4], Rejection) and "reasoning_tokens" in parsed[4].reason
    assert isinstance(parsed[5], Rejection) and "not a number" in parsed[5].reason


def test_unmapped_counts_default_to_zero() -> None:
    parsed = _parse(ASSETS / "calls.csv", {"model": "llm", "input_tokens": "tokens_in"})
    first = parsed[2]
    assert isinstance(first, RequestRecord) and first.output_tokens == 0 and first.status == "ok"


def test_every_record_is_accounted_for() -> None:
    ingestor = Ingestor(TableBuilder(), forced_reader=GenericReader(parse_mapping(CSV_MAP)))
    ingestor.read_file(SourceFile("calls.csv", ASSETS / "calls.csv"))
    report = ingestor.finish()
    assert report.balanced
    assert (report.records_read, report.requests, report.rejected) == (8, 4, 4)


ROWS = "call_id,created,llm,tokens_in,tokens_out,prompt_text\n1,{day} 10:00:00,gpt-4o-mini,{n},5,{app} question one\n" \
    "2,{day} 11:00:00,gpt-4o-mini,{n},7,{app} question two\n"
ROW_MAP = "request_id=call_id,ts=created,model=llm,input_tokens=tokens_in,output_tokens=tokens_out,prompt=prompt_text"


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_row_numbers_of_two_apps_do_not_collide_but_a_file_read_twice_does(tmp_path: Path,
                                                                           order: tuple[int, ...]) -> None:
    """Two apps' exports both number their rows 1, 2: four requests. The first app's file given
    again (a later download of the same rows) adds duplicates only."""
    billing, search = tmp_path / "billing.csv", tmp_path / "search.csv"
    billing.write_text(ROWS.format(day="2026-03-01", n=100, app="billing"))
    search.write_text(ROWS.format(day="2026-03-02", n=300, app="search"))
    again = tmp_path / "billing-again.csv"
    again.write_text(billing.read_text())
    files = [billing, search, again]
    ingestor = Ingestor(TableBuilder(), forced_reader=GenericReader(parse_mapping(ROW_MAP)))
    for index in order:
        ingestor.read_file(SourceFile(files[index].name, files[index]))
    report = ingestor.finish()
    assert report.balanced
    assert (report.records_read, report.requests, report.duplicates) == (6, 4, 2)
    requests = ingestor.builder.requests_frame()
    assert sorted(requests["input_tokens"].to_list()) == [100, 100, 300, 300]
    assert sorted(shown_id(key) for key in requests["logged_id"]) == ["1", "1", "2", "2"]


def test_cli_reads_generic_logs_with_map(run_cli) -> None:
    code, output, data = run_cli(str(ASSETS / "calls.csv"), "--map", CSV_MAP)
    assert code == 0, output
    assert data is not None
    assert data["ingest"]["files"][0]["format"] == "generic"
    assert (data["ingest"]["requests"], data["ingest"]["rejected"]) == (4, 4)


def test_a_log_that_counts_input_the_anthropic_way_says_so_in_its_mapping(tmp_path: Path) -> None:
    """Whether cache reads are inside the input count is the log's convention, not a row's: rows are never guessed
    one by one (that would mix both readings in one file). A row that cannot be read the OpenAI way says how to map."""
    path = tmp_path / "calls.csv"
    path.write_text("call_id,created,llm,tokens_in,tokens_cached,tokens_out\n"
                    "a-1,2025-09-02 10:15:03,claude-sonnet-4,10,100000,100\n"
                    "a-2,2025-09-02 10:15:04,claude-sonnet-4,50000,40000,10\n")
    spec = ("request_id=call_id,ts=created,model=llm,input_tokens=tokens_in,cache_read_tokens=tokens_cached,"
            "output_tokens=tokens_out")
    plain = _parse(path, parse_mapping(spec))
    assert isinstance(plain[2], Rejection) and "cache_outside_input=true" in plain[2].reason
    assert isinstance(plain[3], RequestRecord) and plain[3].input_tokens == 50_000
    outside = _parse(path, parse_mapping(spec + ",cache_outside_input=TRUE"))
    assert [(r.input_tokens, r.cache_read_tokens) for r in outside.values() if isinstance(r, RequestRecord)] == [
        (100_010, 100_000), (90_000, 40_000)]
    with pytest.raises(ConfigError, match="cache_outside_input must be true or false"):
        parse_mapping(spec + ",cache_outside_input=yes")
    toml = tmp_path / "map.toml"
    toml.write_text('model = "llm"\ninput_tokens = "tokens_in"\noutput_tokens = "tokens_out"\ncache_outside_input = true\n')
    assert load_mapping_file(toml)["cache_outside_input"] == "true"  # a TOML boolean
