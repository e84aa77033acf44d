"""The stream tests' gateway: each test runs on both WebSocket paths (direct and queued)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.gateway.ws_support import StreamGateway, serve_stream


@pytest.fixture(params=["direct", "queued"])
async def gateway(
    request: pytest.FixtureRequest, redis_url: str, unique: str
) -> AsyncIterator[StreamGateway]:
    async with serve_stream(redis_url, unique, direct=request.param == "direct") as running:
        yield running
