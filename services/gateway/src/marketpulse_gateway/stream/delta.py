"""Delta encoding for the stream: send only the top-level fields that changed.

A client applies a delta with a shallow merge, `state = {**state, **delta}`. Top-level is
deliberate: every published value is a flat-ish pydantic model whose fields are always
present, so a nested diff would save little and cost every client a recursive merge. A field
that disappeared is sent as null, which the shallow merge turns into "no value".
"""

from __future__ import annotations

import math
from typing import Any

_MISSING = object()


def changed_fields(before: Any, after: Any) -> Any:
    """What to send so that a client holding `before` ends up with `after`.

    With no usable `before` (first value, a new epoch, anything not a JSON object) the answer
    is the whole of `after`, which a shallow merge applies just as well.
    """
    if not isinstance(before, dict) or not isinstance(after, dict):
        return after
    delta = {k: v for k, v in after.items() if not _same(before.get(k, _MISSING), v)}
    for key in before.keys() - after.keys():
        delta[key] = None
    return delta


def _same(a: Any, b: Any) -> bool:
    # Python says 1 == 1.0 == True; JSON does not, so a type change counts as a change, at
    # any depth: an object or a list is the same only when every member is.
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and a == 0.0:
        # 0.0 and -0.0 differ in JSON
        return b == 0.0 and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def apply_delta(state: Any, delta: Any) -> Any:
    """The client side of `changed_fields` (used by tests and Python clients)."""
    if isinstance(state, dict) and isinstance(delta, dict):
        return {**state, **delta}
    return delta
