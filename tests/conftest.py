from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_dev.embedded_cluster import LocalCluster
from marketpulse_dev.embedded_redis import RedisServer
from tests.redis_fixtures import RedisTarget, session_cluster, session_redis_url

# Property tests check behaviour, not speed: on a loaded 2-core CI machine the timing checks
# only add noise. In CI the examples are derandomised so a red run reproduces exactly.
settings.register_profile(
    "marketpulse",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI") == "true",
)
settings.load_profile("marketpulse")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the Redis shared by the integration tests (private to this test session)."""
    with session_redis_url(tmp_path_factory.mktemp("redis-session")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A local Redis Cluster (3 masters + 3 replicas) shared by the session: never kill it."""
    with session_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture(params=["standalone", "cluster"])
def redis_target(request: pytest.FixtureRequest) -> RedisTarget:
    """The session's standalone Redis, then the session's cluster: a test runs on both."""
    if request.param == "cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        return RedisTarget(cluster.url, cluster=True)
    return RedisTarget(request.getfixturevalue("redis_url"), cluster=False)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = create_redis(redis_url, client_name="pytest")
    yield client
    await client.aclose()


@pytest.fixture
def unique() -> str:
    """A short id to namespace one test's keys and asset names (`t` + 10 hex chars)."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server for one test, which the test may kill and restart."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    yield server
    server.stop()
