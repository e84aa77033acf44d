"""Applying stream data to a held value: snapshot replaces, delta merges. Pure.

The gateway sends a delta as the top-level fields that changed, a field that is gone as
null, and the whole value when it cannot diff (the first value of an epoch, or a value that
is not a JSON object). On this wire a null field and an absent one mean the same thing, so
the client keeps every value canonical: a JSON object never holds a top-level null. Compare
a value from the REST API with `canonical(rest_value)`.
"""

from __future__ import annotations

from typing import Any


def canonical(value: Any) -> Any:
    """`value` with its top-level null fields dropped (other values unchanged)."""
    if isinstance(value, dict) and None in value.values():
        return {k: v for k, v in value.items() if v is not None}
    return value


def apply_delta(value: Any, data: Any) -> Any:
    """The value after merging `data` into `value` (a new object; `value` is not changed)."""
    if not isinstance(value, dict) or not isinstance(data, dict):
        return canonical(data)
    merged = value.copy()
    for key, field in data.items():
        if field is None:
            merged.pop(key, None)
        else:
            merged[key] = field
    return merged
