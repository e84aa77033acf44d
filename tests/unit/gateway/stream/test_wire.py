"""Prebuilt frames: the bytes the hub writes are exactly an RFC 6455 unmasked text frame."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from marketpulse_gateway.stream.wire import outgoing, text_frame_header


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_wire_bytes_match_the_websockets_library(length: int) -> None:
    """At every length-encoding boundary the frame equals what `websockets` serialises."""
    text = "x" * length
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    frame = outgoing(text)
    assert frame.wire == expected
    assert frame.size == len(expected)


def test_text_is_utf8_on_the_wire() -> None:
    """Non-ASCII text is sent as UTF-8 and the header counts bytes, not characters."""
    frame = outgoing('{"note": "Δ €"}')
    payload = '{"note": "Δ €"}'.encode()
    assert frame.wire == text_frame_header(len(payload)) + payload
    assert frame.text == '{"note": "Δ €"}'
