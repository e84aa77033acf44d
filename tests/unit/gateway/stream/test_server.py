"""Serving the stream: the direct socket when uvicorn has what it needs, else one warning and
the portable queued socket."""

from __future__ import annotations

import asyncio
from typing import Any

from structlog.testing import capture_logs
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from marketpulse_common.settings import load_settings
from marketpulse_gateway.stream.direct_socket import DirectWebSocketProtocol
from marketpulse_gateway.stream.server import (
    REQUIRED_ATTRIBUTES,
    direct_protocol,
    missing_internals,
    ws_server_options,
)

SETTINGS = load_settings(ws_max_message_bytes=4096)


class Complete(asyncio.Protocol):
    """A stand-in with every internal the direct socket touches."""

    def __init__(self) -> None:
        self.transport = self.conn = self.queue = self.loop = self.close_timer = None
        self.close_sent = self.disconnected = self.handshake_complete = False
        self.read_paused: bool = False

    def handle_connect(self, event: Any) -> None:
        self.response = self.scope = event

    async def send(self, message: Any) -> None:
        pass


class Older(asyncio.Protocol):
    """A stand-in for a release without the read-pause state and the close timer."""

    def __init__(self) -> None:
        self.transport = self.conn = self.queue = self.loop = None
        self.close_sent = self.disconnected = self.handshake_complete = False

    def handle_connect(self, event: Any) -> None:
        self.response = self.scope = event

    async def send(self, message: Any) -> None:
        pass


class NoSend(Complete):
    """A stand-in whose protocol sends some other way."""

    send = None  # type: ignore[assignment]


def test_the_locked_uvicorn_has_every_internal_the_direct_socket_touches() -> None:
    """uvicorn as pinned in uv.lock: nothing missing (an upgrade that drops one fails here)."""
    assert missing_internals(WebSocketsSansIOProtocol) == []


def test_a_complete_stand_in_lacks_nothing() -> None:
    """Attributes count wherever the class assigns them on itself, not only in __init__."""
    assert missing_internals(Complete) == []


def test_missing_attributes_are_named() -> None:
    """A release without some internals is reported with exactly those missing."""
    assert missing_internals(Older) == ["close_timer", "read_paused"]


def test_a_missing_method_is_named() -> None:
    """A method the subclass overrides must be there to override."""
    assert missing_internals(NoSend) == ["send"]


def test_nothing_at_all_lacks_everything() -> None:
    """A class with none of it lacks every method and attribute."""
    assert missing_internals(object) == ["handle_connect", "send", *sorted(REQUIRED_ATTRIBUTES)]


def test_with_everything_there_the_stream_gets_its_protocol() -> None:
    """The production options: the direct socket's protocol, the size limit, no compression."""
    with capture_logs() as logs:
        options = ws_server_options(SETTINGS)
    assert options == {
        "ws": DirectWebSocketProtocol,
        "ws_max_size": 4096,
        "ws_per_message_deflate": False,
    }
    assert logs == []


def test_without_the_internals_uvicorn_keeps_its_own_protocol_and_one_warning_says_so() -> None:
    """The fallback: no `ws` option (uvicorn's own protocol), the same limits, one warning."""
    with capture_logs() as logs:
        options = ws_server_options(SETTINGS, base=Older)
    assert options == {"ws_max_size": 4096, "ws_per_message_deflate": False}
    assert [(log["log_level"], log["missing"]) for log in logs] == [
        ("warning", ["close_timer", "read_paused"])
    ]
    assert "queued socket" in logs[0]["event"]


def test_without_a_sans_io_protocol_at_all_the_fallback_is_taken() -> None:
    """A uvicorn with no sans-I/O WebSocket module: no protocol, one warning."""
    with capture_logs() as logs:
        assert direct_protocol(None) is None
    assert [log["log_level"] for log in logs] == ["warning"]
