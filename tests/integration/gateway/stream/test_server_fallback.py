"""A uvicorn without the internals the direct socket needs still serves the stream, through
the portable queued socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from marketpulse_common.publisher import Publisher
from marketpulse_gateway.stream.direct_socket import DirectWebSocketProtocol
from tests.integration.gateway.conftest import publish_ticker
from tests.integration.gateway.ws_support import StreamGateway, serve_stream, subscribe, ws_connect

pytestmark = pytest.mark.redis


class Older(asyncio.Protocol):
    """Stands in for a uvicorn release whose protocol lacks the close timer and read pause."""

    def __init__(self) -> None:
        self.transport = self.conn = self.queue = self.loop = None
        self.close_sent = self.disconnected = self.handshake_complete = False

    def handle_connect(self, event: Any) -> None:
        self.response = self.scope = event

    async def send(self, message: Any) -> None:
        pass


@pytest.fixture
async def gateway(redis_url: str, unique: str) -> AsyncIterator[StreamGateway]:
    with capture_logs() as logs:
        async with serve_stream(redis_url, unique, base=Older) as running:
            warnings = [log for log in logs if log["log_level"] == "warning"]
            assert [log["missing"] for log in warnings] == [["close_timer", "read_paused"]]
            yield running


async def test_clients_get_snapshots_and_deltas_without_the_direct_socket(
    gateway: StreamGateway, publisher: Publisher
) -> None:
    """uvicorn serves with its own protocol; subscribers still get a snapshot and every delta."""
    assert gateway.server.config.ws is not DirectWebSocketProtocol
    first = await publish_ticker(publisher, gateway.asset, 100.0)
    async with ws_connect(gateway.ws_url) as a, ws_connect(gateway.ws_url) as b:
        states = [await subscribe(ws, gateway.channel) for ws in (a, b)]
        assert [state.seq for _, state in states] == [first.seq, first.seq]
        last = first
        for price in (101.0, 102.0, 103.0):
            last = await publish_ticker(publisher, gateway.asset, price)
        for ws, (_, state) in zip((a, b), states, strict=True):
            await state.follow_until(ws, last.seq)
            assert state.value["price"] == 103.0
            assert len(state.seqs) == 4
