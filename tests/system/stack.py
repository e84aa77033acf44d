"""The product as separate OS processes, for client system tests (Python and TypeScript).

A `Stack` runs a private Redis — a redis-server (AOF on; restartable on the same port and
data dir), or a local three-master cluster when the suite runs on one
(MARKETPULSE_TEST_TOPOLOGY=cluster, tests/redis_fixtures.py) — the ingestor (simulated
market, fast clock), compute and a gateway on a fixed port, each
started as an operator would (`python -m …`, tests/processes.py). A test drives it:

    with running_stack(tmp_path) as stack:        # or the `stack` fixture
        stack.base_url, stack.ws_url               # http://127.0.0.1:<port>, ws://…/v1/stream
        stack.wait_for_value("ticker:bitcoin")     # the server holds a value
        stack.kill_gateway()                       # SIGKILL: a crash, nothing drained
        stack.start_gateway()                      # same port; returns once /healthz is 200
        stack.restart_gateway()                    # both
        stack.wipe_redis()                         # FLUSHALL (every master): new epochs
        stack.server_value("ticker:bitcoin")       # ServerValue(epoch, seq, data) or None
        stack.stream_ids("ticker:bitcoin", a, b)   # the channel's history between two seqs
        stack.pour("sentiment:bitcoin", 500)       # many large updates at once
        stack.dropped_slow()                       # clients the gateway closed with 4008

`Stack(workdir, env={...})` adds or overrides MP_ settings for every service (SMALL_QUEUE for
a test of a stalled reader, MP_API_KEYS_REQUIRED=true, MP_ASSETS=bitcoin,ethereum, …).

Every method is synchronous and quick except the ones that wait for a process (start,
restart: run them with `asyncio.to_thread` from an async test so its event loop — and the
client under test — keeps running). `client_env()` gives a child process (a Node script) the
addresses it needs. Nobody else publishes on `sentiment:<asset>` (no sentiment service runs),
which is what makes it the channel to pour into.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from redis.asyncio import Redis as AsyncRedis

from marketpulse_common.connection import create_redis
from marketpulse_common.events import Sentiment
from marketpulse_common.keys import Channel
from marketpulse_common.publisher import Publisher, snapshot_from_fields
from marketpulse_dev.embedded_redis import RedisServer, free_port
from tests.processes import ServiceProcess, service_env, wait_healthy
from tests.redis_fixtures import ProductRedis, system_topology
from tests.waiting import eventually_sync

ASSET = "bitcoin"
TIMEFRAMES = "5m,1h"
# 600x: a 5m candle closes every half second, a 1h candle every 6 s; tickers stay 1/s.
SIM_SPEED = "600"
# The smallest queue the gateway allows, so a stalled reader is closed (4008) quickly; pass
# it as `env=SMALL_QUEUE` only where that is wanted: the gateway also caps a resume's replay
# at half the queue, so with it a resume after a few seconds' outage is a snapshot instead.
SMALL_QUEUE = {"MP_WS_QUEUE_BYTES": "16384"}
_DROPPED_SLOW = re.compile(
    rb'^marketpulse_gateway_ws_clients_dropped_total\{reason="slow"\} ([0-9.e+]+)$', re.M
)


@dataclass(frozen=True)
class ServerValue:
    """A channel's value as the server holds it (its snapshot hash in Redis)."""

    epoch: str
    seq: str
    data: Any


class Stack:
    def __init__(
        self,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        topology: str | None = None,
    ) -> None:
        """`env`: extra MP_ settings for every service (e.g. MP_API_KEYS_REQUIRED);
        `topology`: `standalone` or `cluster` (default: the suite's, system_topology())."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        cluster = (topology or system_topology()) == "cluster"
        self.product_redis = ProductRedis(workdir, cluster=cluster)
        self.port = free_port()
        self._extra = dict(env or {})
        self._redis: redis.Redis | None = None
        self.ingestor: ServiceProcess | None = None
        self.compute: ServiceProcess | None = None
        self.gateway: ServiceProcess | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/stream"

    @property
    def redis_url(self) -> str:
        return self.product_redis.target.url

    @property
    def redis_server(self) -> RedisServer:
        """The stack's one redis-server (standalone only: a cluster has six)."""
        server = self.product_redis.server
        assert server is not None, "this stack runs on a cluster"
        return server

    def client_env(self) -> dict[str, str]:
        """What a client in a child process needs to know."""
        return {"MARKETPULSE_URL": self.base_url, "MARKETPULSE_WS_URL": self.ws_url}

    def env(self) -> dict[str, str]:
        defaults = {
            **self.product_redis.target.env(),
            "MP_ASSETS": ASSET,
            "MP_TIMEFRAMES": TIMEFRAMES,
            "MP_SOURCE": "simulated",
            "MP_SIM_SPEED": SIM_SPEED,
            "MP_HISTORY_DEPTH": "200",
            "MP_GATEWAY_PORT": str(self.port),
            "MP_RATE_LIMIT_PER_MINUTE": "0",
            "MP_SENTIMENT_PROVIDER": "off",
        }
        # `env` may override a default (e.g. MP_ASSETS for more than one asset).
        return service_env(**{**defaults, **self._extra})

    # --- the whole stack --------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        self.product_redis.start()
        self._redis = self.product_redis.sync_client()
        env = self.env()
        self.ingestor = ServiceProcess("ingestor", env, self.workdir)
        self.compute = ServiceProcess("compute", env, self.workdir)
        self.start_gateway(timeout)

    def stop(self) -> None:
        for child in (self.gateway, self.compute, self.ingestor):
            if child is not None:
                child.terminate(timeout=10)
        if self._redis is not None:
            self._redis.close()
        self.product_redis.stop()

    # --- the gateway ----------------------------------------------------------------------

    def start_gateway(self, timeout: float = 30) -> None:
        """Start a gateway on the stack's port and wait until it answers /healthz."""
        if self.gateway is not None and self.gateway.proc.poll() is None:
            raise RuntimeError("a gateway is already running on this stack")
        self.gateway = ServiceProcess("gateway", self.env(), self.workdir)
        self.wait_gateway_ready(timeout)

    def kill_gateway(self) -> None:
        """SIGKILL: connections end without a close frame, as in a crash."""
        if self.gateway is not None:
            self.gateway.kill()

    def stop_gateway(self) -> int:
        """SIGTERM: the gateway drains and closes its connections (1012)."""
        return self.gateway.terminate() if self.gateway is not None else 0

    def restart_gateway(self, timeout: float = 30) -> None:
        self.kill_gateway()
        self.start_gateway(timeout)

    def wait_gateway_ready(self, timeout: float = 30) -> None:
        gateway = self.gateway
        assert gateway is not None
        wait_healthy(self.base_url, gateway.proc, lambda: self.log_tail("gateway"), timeout=timeout)

    def dropped_slow(self) -> int:
        """Clients this gateway process closed with 4008 (from its /metrics)."""
        body = httpx.get(f"{self.base_url}/metrics", timeout=5).content
        found = _DROPPED_SLOW.search(body)
        return int(float(found.group(1))) if found else 0

    # --- Redis ------------------------------------------------------------------------------

    @property
    def redis(self) -> redis.Redis:
        assert self._redis is not None, "the stack is not started"
        return self._redis

    def async_client(self, client_name: str) -> AsyncRedis:
        """A product-style asyncio client on the stack's Redis (cluster-aware), for a test
        that writes as a service would; the caller closes it."""
        return self.product_redis.target.client(client_name)

    def wipe_redis(self) -> None:
        """Redis loses everything (it is the stack's own, on a cluster every master):
        histories restart with a new epoch at the next publish."""
        self.redis.flushall()  # redis-py's cluster client sends it to every master

    def restart_redis(self) -> None:
        """Stop and start redis-server on the same port and data dir (AOF: data kept)."""
        self.redis_server.stop()
        self.redis_server.start()

    def server_value(self, channel: str) -> ServerValue | None:
        fields = self.redis.hgetall(Channel.parse(channel).snapshot_key)
        snapshot = snapshot_from_fields(fields)  # type: ignore[arg-type]
        if snapshot is None:
            return None
        return ServerValue(snapshot.epoch, snapshot.seq, json.loads(snapshot.data))

    def wait_for_value(self, channel: str, timeout: float = 60) -> ServerValue:
        found: ServerValue = eventually_sync(
            lambda: self.server_value(channel), timeout=timeout, what=f"a value on {channel}"
        )
        return found

    def stream_ids(self, channel: str, first: str = "-", last: str = "+") -> list[str]:
        """Ids (seqs) of the channel's history entries from `first` to `last`, inclusive."""
        key = Channel.parse(channel).stream_key
        return [entry_id for entry_id, _ in self.redis.xrange(key, first, last)]

    def pour(self, channel: str, count: int) -> list[str]:
        """Publish `count` large (~1.4 KB) sentiment values on `channel` as fast as Redis
        takes them; returns their seqs. Blocking: run it in a thread from async code."""
        target = self.product_redis.target
        return asyncio.run(_pour(target.url, target.cluster, Channel.parse(channel), count))

    def log_tail(self, service: str, lines: int = 30) -> str:
        logs = sorted(self.workdir.glob(f"{service}-*.log"))
        if not logs:
            return "(no log)"
        return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])


async def _pour(redis_url: str, cluster: bool, channel: Channel, count: int) -> list[str]:
    client = create_redis(redis_url, client_name="stack-pour", cluster=cluster)
    publisher = Publisher(client, source="pour")
    seqs = []
    try:
        for n in range(count):
            value = Sentiment(
                asset=channel.asset,
                label="neutral",
                score=0.0,
                confidence=0.5,
                summary=f"{n:08d} " + "x" * 270,
                drivers=[f"{n:08d} driver {i} " + "y" * 100 for i in range(5)],
                provider="pour",
                input_hash=f"{n:08d}",
                created_at=datetime.now(UTC),
            )
            published = await publisher.publish(channel, value)
            assert published is not None
            seqs.append(published.seq)
    finally:
        await client.aclose()
    return seqs


@contextmanager
def running_stack(workdir: Path, *, env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """A started stack, stopped (and every child killed) on the way out."""
    stack = Stack(workdir, env=env)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
