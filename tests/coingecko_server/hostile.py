"""Hypothesis strategies for hostile upstream bodies: anything an API (or a CDN, or an
attacker in the middle) might send instead of what the endpoint documents."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner, max_size=6)
    ),
    max_leaves=30,
)


def dumps(value: Any) -> bytes:
    # The standard library writes what orjson refuses: huge integers, NaN, Infinity.
    return json.dumps(value).encode()


def mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """`value` with the element reached by following `path` replaced."""
    if not path or not isinstance(value, list | dict) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[key] = mutate(copy[key], path[1:], replacement)
    return copy


def hostile_bodies(valid: Any) -> st.SearchStrategy[bytes]:
    """Raw bytes, arbitrary JSON, and `valid` with one element swapped for anything."""
    mutated = st.builds(
        lambda path, value: dumps(mutate(valid, path, value)),
        st.lists(st.integers(0, 300), max_size=4),
        json_values,
    )
    truncated = st.integers(1, max(1, len(dumps(valid)) - 1)).map(lambda n: dumps(valid)[:n])
    return st.binary(max_size=200) | json_values.map(dumps) | mutated | truncated
