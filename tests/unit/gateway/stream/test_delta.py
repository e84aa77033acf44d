"""Delta encoding: only changed top-level fields travel, and a shallow merge applies them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from marketpulse_gateway.stream.delta import apply_delta, changed_fields

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False)), max_size=3),
    st.dictionaries(st.sampled_from("xy"), st.one_of(st.booleans(), st.integers()), max_size=2),
)


def test_only_changed_fields() -> None:
    """Fields equal in both values are left out."""
    before = {"price": 1.0, "volume": 5.0, "asset": "bitcoin"}
    after = {"price": 1.5, "volume": 5.0, "asset": "bitcoin"}
    assert changed_fields(before, after) == {"price": 1.5}


def test_nothing_changed() -> None:
    """An identical value gives an empty delta (the seq chain still advances)."""
    assert changed_fields({"a": 1}, {"a": 1}) == {}


def test_nested_objects_are_replaced_whole() -> None:
    """A changed nested object is sent whole: diffing is top-level only."""
    before = {"values": {"rsi": 50.0, "ema": 1.0}}
    after = {"values": {"rsi": 55.0, "ema": 1.0}}
    assert changed_fields(before, after) == {"values": {"rsi": 55.0, "ema": 1.0}}


def test_without_a_base_the_whole_value() -> None:
    """With no previous value (first value, new epoch) the whole value is the delta."""
    assert changed_fields(None, {"a": 1}) == {"a": 1}
    assert changed_fields([1], {"a": 1}) == {"a": 1}
    assert changed_fields({"a": 1}, [2]) == [2]


def test_type_change_counts() -> None:
    """1 → true and 1 → 1.0 are changes in JSON even though Python calls them equal."""
    assert changed_fields({"a": 1, "b": 1}, {"a": True, "b": 1.0}) == {"a": True, "b": 1.0}


def test_removed_field_becomes_null() -> None:
    """A field that disappeared is sent as null."""
    assert changed_fields({"a": 1, "b": 2}, {"a": 1}) == {"b": None}


@given(
    st.dictionaries(st.sampled_from("abcdef"), _values),
    st.dictionaries(st.sampled_from("abcdef"), _values),
)
@example(before={"a": [1]}, after={"a": [True]})
@example(before={"a": {"x": 1}}, after={"a": {"x": 1.0}})
@example(before={"a": [0.0]}, after={"a": [-0.0]})
@example(before={"c": [0.0, 0.0]}, after={"c": [0.0, 1.0]})
def test_merge_reproduces_the_new_value(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Applying the delta to the old value gives the new one, as JSON (where 1, 1.0 and true
    differ, nested too), removed keys read as null."""
    merged = apply_delta(before, changed_fields(before, after))
    kept = {k: v for k, v in merged.items() if k in after}
    assert json.dumps(kept, sort_keys=True) == json.dumps(after, sort_keys=True)
    assert all(merged[k] is None for k in before.keys() - after.keys())
