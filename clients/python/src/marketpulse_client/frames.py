"""The `/v1/stream` wire format as the client reads and writes it. Pure: no I/O.

Server frames are parsed leniently (unknown fields ignored, error codes any string) so a
gateway that grows the protocol does not break deployed clients; a frame of an unknown
`type` parses to None and is skipped. Client ops are encoded by hand: they are three tiny
shapes on the send path.

Positions are Redis stream entry ids, `<ms>-<n>`; `seq_key` gives their order.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SeqKey = tuple[int, int]

# The gateway refuses a client message over 16 KiB (close 1009) and a subscribe naming more
# than 100 channels; a resume position is ~80 bytes, so 50 per op stays far below both.
MAX_CHANNELS_PER_OP = 50
# The gateway refuses a whole subscribe op that names a channel outside 1-96 characters or
# resumes from an epoch or seq over 48: every channel in that op would wait in vain.
MAX_CHANNEL_NAME = 96
MAX_POSITION_TOKEN = 48

# Close codes the client acts on (DESIGN §7).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_ABNORMAL = 1006  # no close frame: the connection just ended
CLOSE_POLICY = 1008  # refused after accept, or too many refused messages: do not retry
CLOSE_TOO_BIG = 1009  # a message of ours was too big: retrying would send it again
CLOSE_SERVICE_RESTART = 1012  # the gateway is shutting down
CLOSE_SLOW = 4008  # we fell too far behind: reconnect and resume


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Subscribed(_Frame):
    """`recovered`: the missed deltas follow (no snapshot); otherwise a snapshot follows."""

    type: Literal["subscribed"]
    channel: str
    epoch: str | None = None
    recovered: bool = False


class Snapshot(_Frame):
    """The channel's whole value; `epoch`, `seq` and `data` are null before any value."""

    type: Literal["snapshot"]
    channel: str
    epoch: str | None = None
    seq: str | None = None
    data: Any = None


class Delta(_Frame):
    """The top-level fields that changed since `prev_seq` (null: the field is gone)."""

    type: Literal["delta"]
    channel: str
    epoch: str
    seq: str
    prev_seq: str | None = None
    data: Any = None


class Heartbeat(_Frame):
    type: Literal["heartbeat"]
    ts: float


class Pong(_Frame):
    type: Literal["pong"]


class ErrorFrame(_Frame):
    """`code`: bad_request, unknown_op, unknown_channel, unavailable, rate_limited,
    too_many_channels, or one added later."""

    type: Literal["error"]
    code: str
    message: str = ""
    channel: str | None = None
    # A subscribe refused as a whole names its channels (None from an older gateway).
    channels: list[str] | None = None


ServerFrame = Subscribed | Snapshot | Delta | Heartbeat | Pong | ErrorFrame
_SERVER_FRAME: TypeAdapter[ServerFrame] = TypeAdapter(
    Annotated[ServerFrame, Field(discriminator="type")]
)
_KNOWN_TYPES = frozenset({"subscribed", "snapshot", "delta", "heartbeat", "pong", "error"})


class MalformedFrame(ValueError):
    """A server frame that is not JSON or not one of the protocol's shapes."""


def parse_frame(text: str | bytes) -> ServerFrame | None:
    """Parse one server frame; None for a frame of a type this client does not know."""
    try:
        return _SERVER_FRAME.validate_json(text)
    except ValidationError as e:
        if _unknown_type(text):
            return None
        raise MalformedFrame(f"not a stream frame: {e.errors()[0]['msg']}") from None


def _unknown_type(text: str | bytes) -> bool:
    try:
        raw = json.loads(text)
    except ValueError:
        return False
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("type"), str)
        and (raw["type"] not in _KNOWN_TYPES)
    )


def seq_key(seq: str) -> SeqKey:
    """Order key of a stream position `<ms>-<n>`; raises ValueError for anything else."""
    ms, sep, n = seq.partition("-")
    if not sep or not ms.isdigit() or not n.isdigit():
        raise ValueError(f"not a stream position: {seq!r}")
    return int(ms), int(n)


def subscribe_op(channels: list[str], resume: dict[str, tuple[str, str]] | None = None) -> str:
    """`{"op": "subscribe", ...}`; `resume` maps a channel to the (epoch, seq) it holds."""
    op: dict[str, Any] = {"op": "subscribe", "channels": channels}
    if resume:
        op["resume"] = {ch: {"epoch": e, "seq": s} for ch, (e, s) in resume.items()}
    return json.dumps(op, separators=(",", ":"))


def unsubscribe_op(channels: list[str]) -> str:
    return json.dumps({"op": "unsubscribe", "channels": channels}, separators=(",", ":"))


def check_channel(channel: str) -> str:
    """`channel`, or ValueError when the gateway could not take it in a subscribe."""
    if not isinstance(channel, str) or not 0 < len(channel) <= MAX_CHANNEL_NAME:
        raise ValueError(
            f"not a channel name: {channel!r} (1-{MAX_CHANNEL_NAME} characters, "
            'e.g. "ticker:bitcoin")'
        )
    return channel
