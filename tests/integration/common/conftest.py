"""The shared stream, consumer and lease helpers hold on standalone Redis and on a cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.redis_fixtures import RedisTarget


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[Redis]:
    """Overrides the suite's standalone client: every test here runs on both topologies."""
    client = redis_target.client()
    yield client
    await client.aclose()
