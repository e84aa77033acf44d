from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.embedded_redis import RedisServer


@pytest.fixture
async def private_redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client on a Redis of this test's own: the simulated clock is one key per Redis."""
    client = create_redis(redis_server.url, client_name="pytest")
    yield client
    await client.aclose()
