"""Value coercions shared by the readers."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from llmaudit.ingest.coerce import canonical_json

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
