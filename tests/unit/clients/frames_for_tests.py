"""Server frames as the gateway encodes them, for the client's unit tests."""

from __future__ import annotations

from typing import Any

from marketpulse_gateway.stream.protocol import (
    Delta,
    ErrorFrame,
    SnapshotFrame,
    Subscribed,
    encode_frame,
)


def subscribed(channel: str, epoch: str | None = "e1", recovered: bool = False) -> str:
    return encode_frame(Subscribed(channel=channel, epoch=epoch, recovered=recovered))


def snapshot(channel: str, seq: str | None, data: Any, epoch: str | None = "e1") -> str:
    return encode_frame(SnapshotFrame(channel=channel, epoch=epoch, seq=seq, data=data))


def delta(channel: str, seq: str, prev: str | None, data: Any, epoch: str = "e1") -> str:
    return encode_frame(Delta(channel=channel, epoch=epoch, seq=seq, prev_seq=prev, data=data))


def error(
    code: Any, message: str = "no", channel: str | None = None, channels: list[str] | None = None
) -> str:
    return encode_frame(ErrorFrame(code=code, message=message, channel=channel, channels=channels))
