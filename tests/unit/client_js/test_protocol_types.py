"""The TypeScript client's frame types (clients/js/src/protocol.ts) say what the gateway's
pydantic models say: the same fields, optional and nullable alike, the same literals.

They are written by hand until the gateway serves an AsyncAPI document to generate them
from; this keeps them from drifting meanwhile. Needs no node: it reads the TypeScript text.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from marketpulse_gateway import errors
from marketpulse_gateway.stream import protocol
from tests.js_client import PACKAGE

SOURCE = (PACKAGE / "src/protocol.ts").read_text()

# pydantic model → the TypeScript interface that mirrors it
CLIENT_OPS = {
    protocol.Position: "Position",
    protocol.Subscribe: "SubscribeOp",
    protocol.Unsubscribe: "UnsubscribeOp",
    protocol.Ping: "PingOp",
}
SERVER_FRAMES = {
    protocol.Subscribed: "SubscribedFrame",
    protocol.SnapshotFrame: "SnapshotFrame",
    protocol.Delta: "DeltaFrame",
    protocol.Heartbeat: "HeartbeatFrame",
    protocol.Pong: "PongFrame",
    protocol.ErrorFrame: "ErrorFrame",
}
FIELD = re.compile(r"^\s*readonly (\w+)(\??): (.+);$")


def interface(name: str) -> dict[str, tuple[bool, str]]:
    """Fields of `export interface name {…}`: name → (optional, type text)."""
    match = re.search(rf"^export interface {name} \{{\n(.*?)^\}}", SOURCE, re.S | re.M)
    assert match, f"no interface {name} in protocol.ts"
    fields = {}
    for line in match.group(1).splitlines():
        if found := FIELD.match(line):
            fields[found.group(1)] = (found.group(2) == "?", found.group(3))
    return fields


def nullable(annotation: Any) -> bool:
    if annotation is Any:
        return True  # `data: Any` — the TypeScript side says `unknown`, which takes null
    origin = get_origin(annotation)
    return (origin is typing.Union or origin is types.UnionType) and type(None) in get_args(
        annotation
    )


def literal(annotation: Any) -> str | None:
    """The value of a one-value Literal (a frame's `type`, an op's `op`)."""
    if get_origin(annotation) is typing.Literal and len(get_args(annotation)) == 1:
        return str(get_args(annotation)[0])
    return None


def check(model: type[BaseModel], name: str, *, always_sent: bool) -> None:
    ts = interface(name)
    assert set(ts) == set(model.model_fields), f"{name} fields differ from {model.__name__}'s"
    for field, info in model.model_fields.items():
        optional, text = ts[field]
        # A server frame is serialised whole: every field is on the wire, defaults included.
        assert optional == (not always_sent and not info.is_required()), f"{name}.{field}"
        if info.annotation is not Any:
            assert ("null" in text.split(" | ")) == nullable(info.annotation), f"{name}.{field}"
        if (value := literal(info.annotation)) is not None:
            assert text == f'"{value}"', f"{name}.{field} should be the literal {value!r}"


@pytest.mark.parametrize(("model", "name"), CLIENT_OPS.items(), ids=CLIENT_OPS.values())
def test_client_op_types_match_the_gateway(model: type[BaseModel], name: str) -> None:
    """Each client op interface has the pydantic model's fields, optionality and nullability."""
    check(model, name, always_sent=False)


@pytest.mark.parametrize(("model", "name"), SERVER_FRAMES.items(), ids=SERVER_FRAMES.values())
def test_server_frame_types_match_the_gateway(model: type[BaseModel], name: str) -> None:
    """Each server frame interface has the pydantic model's fields, all present on the wire."""
    check(model, name, always_sent=True)


def test_error_codes_match_the_gateway() -> None:
    """The client's ErrorCode union lists exactly the gateway's error codes."""
    match = re.search(r"export type ErrorCode =(.*?);", SOURCE, re.S)
    assert match
    codes = set(re.findall(r'"(\w+)"', match.group(1)))
    assert codes == set(get_args(errors.ErrorCode))


def test_close_codes_match_the_gateway() -> None:
    """The close codes the client acts on are the gateway's."""
    for name, code in {
        "POLICY": protocol.CLOSE_POLICY,
        "TOO_BIG": protocol.CLOSE_TOO_BIG,
        "SLOW": protocol.CLOSE_SLOW,
        "GOING_AWAY": protocol.CLOSE_GOING_AWAY,
    }.items():
        assert re.search(rf"\b{name}: {code},", SOURCE), f"CloseCode.{name} should be {code}"
    assert re.search(rf"MAX_CHANNELS_PER_OP = {protocol.MAX_CHANNELS_PER_OP};", SOURCE)
