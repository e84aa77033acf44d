"""The stream's AsyncAPI document: a valid AsyncAPI 3.0 document that describes exactly the
frames protocol.py encodes, so clients generated from it and tests checked against it see
the gateway as it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from marketpulse_common.keys import ChannelKind
from marketpulse_gateway.catalog import CACHED_ONLY_KINDS
from marketpulse_gateway.stream.asyncapi import CLIENT_OPS, SERVER_FRAMES, asyncapi_document
from marketpulse_gateway.stream.protocol import (
    Delta,
    ErrorFrame,
    Heartbeat,
    Pong,
    SnapshotFrame,
    Subscribed,
    encode_frame,
    parse_client_op,
)
from tests.asyncapi_frames import check_frame, checked_frame

ROOT = Path(__file__).resolve().parents[4]
SPEC = ROOT / "clients/js/node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json"
DOCUMENT = asyncapi_document(keys_required=True, version="1")
FRAMES = [
    Subscribed(channel="ticker:bitcoin", epoch="e1", recovered=False),
    SnapshotFrame(channel="ticker:bitcoin", epoch=None, seq=None, data=None),
    SnapshotFrame(channel="ticker:bitcoin", epoch="e1", seq="1-0", data={"price": 1.0}),
    Delta(channel="ticker:bitcoin", epoch="e1", seq="2-0", prev_seq="1-0", data={"p": None}),
    Heartbeat(ts=1.5),
    Pong(),
    ErrorFrame(code="unknown_channel", message="no such channel", channel="x:y"),
]


def test_the_document_is_valid_asyncapi_3() -> None:
    """It validates against the AsyncAPI 3.0.0 JSON Schema (from @asyncapi/specs)."""
    if not SPEC.exists():
        pytest.skip("clients/js is not installed (make install): no AsyncAPI schema to check")
    spec = json.loads(SPEC.read_text())
    problems = [f"{list(e.path)}: {e.message}" for e in Draft7Validator(spec).iter_errors(DOCUMENT)]
    assert problems == []


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.type)
def test_every_frame_the_server_encodes_is_a_message_of_the_document(frame: Any) -> None:
    checked_frame(encode_frame(frame))


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "delta", "channel": "c", "epoch": "e", "seq": "2-0", "data": {}},  # no prev_seq
        {"type": "snapshot", "channel": "c", "epoch": "e", "seq": "1-0"},  # no data
        {"type": "heartbeat", "ts": "soon"},
        {"type": "error", "code": "oops", "message": "m", "channel": None},
        {"type": "pong", "extra": 1},
        {"type": "welcome"},
    ],
)
def test_a_frame_the_document_does_not_describe_fails_the_check(frame: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check_frame(frame)


def test_client_op_schemas_accept_what_the_server_parses() -> None:
    """The documented ops and the parser agree on a resume subscribe."""
    op = {
        "op": "subscribe",
        "channels": ["ticker:bitcoin"],
        "resume": {"ticker:bitcoin": {"epoch": "e", "seq": "1-0"}},
    }
    parse_client_op(json.dumps(op))
    schemas = DOCUMENT["components"]
    validator = Draft7Validator(
        {**schemas["messages"]["subscribe"]["payload"], "components": schemas}
    )
    assert list(validator.iter_errors(op)) == []


def test_it_names_every_message_and_every_channel_value() -> None:
    messages = DOCUMENT["components"]["messages"]
    assert set(messages) == set(CLIENT_OPS) | set(SERVER_FRAMES)
    streamed = {kind.value for kind in ChannelKind if kind not in CACHED_ONLY_KINDS}
    assert set(DOCUMENT["x-channel-values"]) == streamed
    assert set(DOCUMENT["x-close-codes"]) >= {"1008", "1009", "4008"}
