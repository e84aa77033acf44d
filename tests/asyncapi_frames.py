"""Check server frames against the gateway's AsyncAPI document (`/asyncapi.json`).

The stream tests decode every frame they receive through `checked_frame`, so every frame the
suite sees the gateway send is validated against the document the clients are generated
from: a frame the document does not describe fails the test that received it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from marketpulse_gateway.stream.asyncapi import SERVER_FRAMES, asyncapi_document


@cache
def _validators() -> dict[str, Draft202012Validator]:
    document = asyncapi_document(keys_required=False, version="test")
    messages = document["components"]["messages"]
    return {
        name: Draft202012Validator(
            {**messages[name]["payload"], "components": document["components"]}
        )
        for name in SERVER_FRAMES
    }


def check_frame(frame: Any) -> dict[str, Any]:
    """`frame` if it is one of the document's server messages; else AssertionError."""
    assert isinstance(frame, dict), f"a frame is a JSON object: {frame!r}"
    validator = _validators().get(frame.get("type"))  # message names are the frame types
    assert validator is not None, f"no AsyncAPI message for frame type {frame.get('type')!r}"
    problems = [e.message for e in validator.iter_errors(frame)]
    assert not problems, f"frame outside the AsyncAPI document: {problems}: {frame}"
    return frame


def checked_frame(text: str | bytes) -> dict[str, Any]:
    """Decode one server frame and check it against the AsyncAPI document."""
    return check_frame(orjson.loads(text))
