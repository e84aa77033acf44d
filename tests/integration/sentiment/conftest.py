from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_dev.embedded_redis import RedisServer
from tests.integration.sentiment.fake_anthropic import API_KEY, FakeAnthropic


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """A scriptable Messages API on loopback, expecting API_KEY."""
    with FakeAnthropic(API_KEY).running() as server:
        yield server


@pytest.fixture
async def own_redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client on a Redis private to this test: the budget and cooldown keys are global."""
    client = create_redis(redis_server.url, client_name="pytest")
    yield client
    await client.aclose()
