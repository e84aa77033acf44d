"""The `/v1/stream` WebSocket protocol (DESIGN §7): frame models, parsing and encoding.

Pure: no I/O and no clock, so every rule here is unit-tested without a server.

Client ops are validated strictly (unknown fields rejected, lists bounded) because they are
untrusted input; a message that fails is a `ProtocolError` whose code becomes an `error`
frame, and the connection stays open.

Positions are Redis stream entry ids (`<ms>-<n>`): `seq` of a frame is the id of the entry
that produced it and `prev_seq` the id before it on the same channel, so
`channel_event.seq_key` gives the order and a client detects a gap when a delta's `prev_seq`
is not the `seq` it holds.

A subscribe with a resume position answers `subscribed` with `recovered: true` followed by
the missed updates as deltas (no snapshot: the client keeps its state), or `recovered: false`
followed by a snapshot; see resume.py.

Close codes: 1000 normal, 1012 the gateway is shutting down (DESIGN), 1008 policy (handshake
refused after accept, or a client that keeps breaking the limits), 1009 client message too
big, 4008 the client is too slow to keep up (its queue overflowed).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from marketpulse_gateway.errors import ErrorCode, ProtocolError

# A subscribe naming more than this is almost certainly a bug or abuse; per-connection
# channel limits (counting earlier subscribes) are enforced by the session, not here.
MAX_CHANNELS_PER_OP = 100
# Longest channel name the catalog can produce is well below this (kind:asset:tf, asset ≤ 64).
MAX_CHANNEL_NAME = 96
# Stream ids and epochs are short ASCII tokens; anything longer is not one of ours.
MAX_POSITION_TOKEN = 48

# The gateway is stopping (a restart or a scale-down): reconnect, to another replica.
CLOSE_SERVICE_RESTART = 1012
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
# Private-use range (4000-4999); "4008" mirrors 1008 for "you broke the pace, not a rule".
CLOSE_SLOW = 4008

ChannelName = Annotated[str, Field(min_length=1, max_length=MAX_CHANNEL_NAME)]
ChannelList = Annotated[list[ChannelName], Field(min_length=1, max_length=MAX_CHANNELS_PER_OP)]


class _Frame(BaseModel):
    # A frame as sent always carries every field (defaults included): its serialisation
    # schema says so, so the AsyncAPI document and the types made from it require them.
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )


# --- client → server -------------------------------------------------------------------


class Position(_Frame):
    """Where a client stopped reading a channel: `{epoch, seq}` from its last frame."""

    epoch: Annotated[str, Field(max_length=MAX_POSITION_TOKEN)]
    seq: Annotated[str, Field(max_length=MAX_POSITION_TOKEN)]


class Subscribe(_Frame):
    op: Literal["subscribe"]
    channels: ChannelList
    resume: dict[ChannelName, Position] | None = None


class Unsubscribe(_Frame):
    op: Literal["unsubscribe"]
    channels: ChannelList


class Ping(_Frame):
    op: Literal["ping"]


ClientOp = Annotated[Subscribe | Unsubscribe | Ping, Field(discriminator="op")]
_CLIENT_OP: TypeAdapter[Subscribe | Unsubscribe | Ping] = TypeAdapter(ClientOp)
_OPS = ("subscribe", "unsubscribe", "ping")


# --- server → client -------------------------------------------------------------------


class Subscribed(_Frame):
    """`recovered`: the missed deltas follow (no snapshot); otherwise a snapshot follows."""

    type: Literal["subscribed"] = "subscribed"
    channel: str
    epoch: str | None
    recovered: bool


class SnapshotFrame(_Frame):
    """The cached state of a channel; `seq`, `epoch` and `data` are null before any value."""

    type: Literal["snapshot"] = "snapshot"
    channel: str
    epoch: str | None
    seq: str | None
    data: Any


class Delta(_Frame):
    """One update: apply with a shallow merge, `state = {**state, **data}` (see delta.py)."""

    type: Literal["delta"] = "delta"
    channel: str
    epoch: str
    seq: str
    prev_seq: str | None
    data: Any


class Heartbeat(_Frame):
    type: Literal["heartbeat"] = "heartbeat"
    ts: float


class Pong(_Frame):
    type: Literal["pong"] = "pong"


class ErrorFrame(_Frame):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    # The one channel refused (unknown_channel)...
    channel: str | None = None
    # ...or, for a subscribe refused as a whole (too_many_channels, unavailable,
    # rate_limited), the channels it named: a client with several subscribes in flight
    # knows which one was answered.
    channels: list[str] | None = None


ServerFrame = Subscribed | SnapshotFrame | Delta | Heartbeat | Pong | ErrorFrame
_SERVER_FRAME: TypeAdapter[ServerFrame] = TypeAdapter(
    Annotated[ServerFrame, Field(discriminator="type")]
)


def parse_client_op(text: str | bytes) -> Subscribe | Unsubscribe | Ping:
    """Parse one client message; raise ProtocolError (bad_request / unknown_op) if unusable."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError("bad_request", "message is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError("bad_request", "message must be a JSON object")
    op = raw.get("op")
    if op not in _OPS:
        raise ProtocolError("unknown_op", f"unknown op {op!r}; expected one of {', '.join(_OPS)}")
    try:
        return _CLIENT_OP.validate_python(raw)
    except ValidationError as e:
        raise ProtocolError("bad_request", _first_problem(e)) from None


def _first_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "message"
    return f"{where}: {first['msg']}"


def encode_frame(frame: ServerFrame) -> str:
    """The JSON text of a frame, exactly as sent; the hub calls this once per event."""
    return frame.model_dump_json()


def decode_frame(text: str | bytes) -> ServerFrame:
    """Parse a server frame (for clients and tests); raises pydantic.ValidationError."""
    return _SERVER_FRAME.validate_json(text)
