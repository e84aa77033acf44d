from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_dev.embedded_redis import RedisServer
from tests.coingecko_server.server import FakeCoinGecko


@pytest.fixture
async def private_redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client on a Redis of this test's own: the simulated clock is one key per Redis."""
    client = create_redis(redis_server.url, client_name="pytest")
    yield client
    await client.aclose()


@pytest.fixture
def coingecko() -> Iterator[FakeCoinGecko]:
    """A keyless (public plan) CoinGecko on loopback."""
    with FakeCoinGecko(plan="public") as server:
        yield server


@pytest.fixture
def demo_coingecko() -> Iterator[FakeCoinGecko]:
    """A CoinGecko that wants the demo key in `x-cg-demo-api-key`."""
    with FakeCoinGecko(plan="demo") as server:
        yield server


@pytest.fixture
def pro_coingecko() -> Iterator[FakeCoinGecko]:
    """A CoinGecko that wants the pro key in `x-cg-pro-api-key` (and serves paid intervals)."""
    with FakeCoinGecko(plan="pro") as server:
        yield server
