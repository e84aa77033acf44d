"""A server frame ready to send: its JSON text and its complete WebSocket frame bytes. Pure.

Frames a server sends are never masked (RFC 6455 §5.1) and the stream negotiates no
extension, so the bytes on the wire for one message are the same for every client. The hub
builds them once per event and hands the very same object to every subscriber; a direct
socket writes `wire` as it is, the portable ASGI path sends `text`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text): every message fits in one frame
_LEN16 = 126  # payload length marker: 16-bit length follows
_LEN64 = 127  # payload length marker: 64-bit length follows


@dataclass(frozen=True, slots=True)
class Outgoing:
    text: str
    wire: bytes
    size: int  # bytes the frame takes in a send buffer: len(wire)


def outgoing(text: str) -> Outgoing:
    payload = text.encode()
    wire = text_frame_header(len(payload)) + payload
    return Outgoing(text, wire, len(wire))


def text_frame_header(length: int) -> bytes:
    """Header of an unmasked, final text frame carrying `length` payload bytes."""
    if length < _LEN16:
        return bytes((_FIN_TEXT, length))
    if length < 1 << 16:
        return struct.pack("!BBH", _FIN_TEXT, _LEN16, length)
    return struct.pack("!BBQ", _FIN_TEXT, _LEN64, length)
