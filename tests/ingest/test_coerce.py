"""Value coercions shared by the readers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaudit.ingest.coerce import (
    EARLIEST_TS,
    MAX_TOKENS_PER_REQUEST,
    BadValue,
    canonical_json,
    content_parts,
    to_int,
    to_ts,
)

SCALARS = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=30)


@given(VALUES)
def test_canonical_json_is_sorted_compact_utf8_json(value: object) -> None:
    text = canonical_json(value)
    assert text == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(text) == value


@given(st.recursive(st.floats(allow_nan=False, allow_infinity=False) | SCALARS,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=30))
def test_canonical_json_round_trips_floats(value: object) -> None:
    assert json.loads(canonical_json(value)) == value


def test_canonical_json_does_not_depend_on_key_order() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, "é"], "c": None}}) == canonical_json({"a": {"c": None, "d": [1, "é"]}, "b": 1}) \
        == '{"a":{"c":null,"d":[1,"é"]},"b":1}'


def test_canonical_json_keeps_lone_surrogates() -> None:
    """`json.loads` of a string body keeps an escaped lone surrogate; the text is kept, not rejected."""
    value = json.loads('{"a": "x\\ud800y"}')
    assert canonical_json(value) == '{"a":"x\ud800y"}'


def _reference_ts(value: object) -> datetime | str | None:
    """to_ts as first written (epoch tried before ISO, the clock read on every call): the oracle."""
    if value == "":
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            iso = text.replace(" UTC", "+00:00").replace("Z", "+00:00")
            if len(iso) > 10 and iso[10] == " ":
                iso = iso[:10] + "T" + iso[11:]
            try:
                ts = datetime.fromisoformat(iso)
            except ValueError:
                return "not a date"
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
            return ts if EARLIEST_TS <= ts <= datetime.now(UTC) + timedelta(days=2) else "out of range"
    magnitude = abs(number)
    seconds = number / 1e9 if magnitude >= 1e17 else number / 1e6 if magnitude >= 1e14 \
        else number / 1e3 if magnitude >= 1e11 else number
    try:
        ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except (ValueError, OverflowError):
        return "not a date"
    return ts if EARLIEST_TS <= ts <= datetime.now(UTC) + timedelta(days=2) else "out of range"


MOMENTS = st.datetimes(min_value=datetime(2014, 6, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]))
TIMESTAMPS = (
    st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | MOMENTS.map(lambda m: m.timestamp()) | MOMENTS.map(lambda m: int(m.timestamp() * 1000))
    | MOMENTS.map(lambda m: int(m.timestamp() * 1e9)) | MOMENTS.map(lambda m: str(int(m.timestamp())))
    | MOMENTS.map(lambda m: f"{m.timestamp() * 1000:.3f}")
    | MOMENTS.map(lambda m: m.isoformat()) | MOMENTS.map(lambda m: m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    | MOMENTS.map(lambda m: m.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    | MOMENTS.map(lambda m: m.replace(tzinfo=None).isoformat(sep=" ")) | MOMENTS.map(lambda m: m.date().isoformat())
    | st.text(alphabet="0123456789-:.TZ eE+ U C", max_size=30)
)


@given(TIMESTAMPS)
def test_to_ts_reads_every_shape_as_the_reference_does(value: object) -> None:
    expected = _reference_ts(value)
    try:
        got: datetime | str | None = to_ts(value)
    except BadValue as exc:
        got = "out of range" if "before 2015" in str(exc) or "in the future" in str(exc) else "not a date"
    assert got == expected


@pytest.mark.parametrize(("value", "expected"), [
    (0, 0), (7, 7), (MAX_TOKENS_PER_REQUEST, MAX_TOKENS_PER_REQUEST), (12.0, 12), (" 12 ", 12), ("3e2", 300),
    (None, None), ("", None),
])
def test_to_int_reads_counts(value: object, expected: int | None) -> None:
    assert to_int(value, "tokens") == expected


@pytest.mark.parametrize(("value", "reason"), [
    (-1, "negative"), (MAX_TOKENS_PER_REQUEST + 1, "implausibly large"), (True, "boolean"), (False, "boolean"),
    (12.5, "whole number"), (float("nan"), "whole number"), ("twelve", "not a number"), ([1], "type list"),
])
def test_to_int_rejects_what_is_not_a_count(value: object, reason: str) -> None:
    with pytest.raises(BadValue, match=reason):
        to_int(value, "tokens")


def test_to_int_requires_a_value_when_asked() -> None:
    with pytest.raises(BadValue, match="missing tokens"):
        to_int(None, "tokens", required=True)


def test_content_parts_joins_text_runs_and_splits_at_every_other_part() -> None:
    content = [
        "plain", {"type": "text", "text": "first"}, {"text": "untyped"},
        {"type": "tool_use", "name": "lookup", "input": {"q": 1}},
        {"type": "tool_result", "content": "result text"},
        {"type": "tool_result", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"type": "tool_result"},
        {"type": "text", "text": {"not": "a string"}}, 7,
        {"type": "thinking", "thinking": "hmm"},
        {"type": "image", "source": {"data": "AAAA"}},
        {"type": "mystery", "x": 1},
        {"type": "output_text", "text": "last"},
    ]
    parts = [(m.role, m.kind, m.text) for m in content_parts("assistant", content)]
    assert parts[:8] == [
        ("assistant", "text", "plain\nfirst\nuntyped"),
        ("assistant", "tool_call", 'lookup({"q":1})'),
        ("tool", "tool_result", "result text"),
        ("tool", "tool_result", "a\nb"),
        ("tool", "tool_result", ""),
        ("assistant", "text", '{"not":"a string"}'),
        ("assistant", "thinking", "hmm"),
        ("assistant", "image", parts[7][2]),
    ]
    assert parts[7][2].startswith("[image ") and parts[8:] == [
        ("assistant", "text", '{"type":"mystery","x":1}'), ("assistant", "text", "last")]


@pytest.mark.parametrize(("content", "expected"), [
    (None, []), ("hello", [("user", "text", "hello")]), ({"type": "text", "text": "one"}, [("user", "text", "one")]),
    (42, [("user", "text", "42")]), ([], []),
])
def test_content_parts_reads_every_shape_of_content(content: object, expected: list[tuple[str, str, str]]) -> None:
    assert [(m.role, m.kind, m.text) for m in content_parts("user", content)] == expected


def test_output_params_keep_the_wanted_parameters_set_as_sorted_json() -> None:
    from llmaudit.ingest.coerce import output_params

    body = {"stop": ["\n"], "model": "m", "tool_choice": None, "n": 2, "logit_bias": {"50256": -100}}
    assert output_params(body, ("n", "stop", "tool_choice", "logit_bias", "seed")) == \
        '{"logit_bias":{"50256":-100},"n":2,"stop":["\\n"]}'
    assert output_params(body, ("seed",)) is None
    assert output_params(body) == '{"logit_bias":{"50256":-100},"model":"m","n":2,"stop":["\\n"]}'
    assert output_params(["not", "a", "body"], ("n",)) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("  text ", "text"), ("   ", None), ("", None), (None, None), (12, "12"), (1.5, "1.5"), ({"a": 1}, None),
    ([1], None), (True, "True"),
])
def test_to_str_keeps_non_empty_text(value: object, expected: str | None) -> None:
    from llmaudit.ingest.coerce import to_str

    assert to_str(value) == expected
