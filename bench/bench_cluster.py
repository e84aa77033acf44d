"""Redis Cluster against standalone Redis, for the two paths every event takes.

1. publish: the product's `Publisher` (its Lua script writes the stream entry and the
   snapshot hash, in the asset's slot) publishing ticker and sentiment values on every
   channel of several assets at once, one coroutine per channel as the services do; values
   published per second.
2. the gateway's read path: the gateway's own `StreamReader` (one XREAD over every stream on
   standalone Redis, one blocking loop per asset's slot on a cluster) reading a backlog of
   those entries from the start into a sink that counts them; entries per second from its
   start until the last one reached the sink (decoded and validated, as the gateway does).

The same work on four private deployments, each keeping an AOF as the product's Redis does:
one redis-server; one with a replica; a local cluster of three masters; and of three masters
with a replica each (`marketpulse_dev.embedded_cluster`, what the tests use). Every write to
a master with a replica is also applied and logged by that replica, on the same two cores
here, so each cluster is compared with the standalone of the same redundancy, and the full
cluster with the bare server as well. Rounds alternate and each figure is the median of its
rounds. Reported: cluster time / standalone time for each path. Target: ≤ 1.3×.

    .venv/bin/python bench/bench_cluster.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from redis.asyncio import Redis

from cli import bench_parser, publish
from marketpulse_common.connection import create_redis
from marketpulse_common.events import Schema, Sentiment, Ticker
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Publisher
from marketpulse_dev.embedded_cluster import LocalCluster
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_gateway.channel_event import ChannelEvent
from marketpulse_gateway.stream.reader import ORIGIN, StreamReader

ASSETS = ("bitcoin", "ethereum", "solana", "cardano", "ripple", "dogecoin")
TARGET = 1.3


@dataclass(frozen=True)
class Plan:
    per_channel: int  # values published on each channel per round
    rounds: int


FULL = Plan(per_channel=1500, rounds=5)
QUICK = Plan(per_channel=60, rounds=1)


def channels() -> list[Channel]:
    kinds = (ChannelKind.TICKER, ChannelKind.SENTIMENT)
    return [Channel(kind, asset) for asset in ASSETS for kind in kinds]


def value(channel: Channel, n: int) -> Schema:
    now = datetime.now(UTC)
    if channel.kind is ChannelKind.TICKER:
        return Ticker(
            asset=channel.asset,
            vs_currency="usd",
            price=60_000 + n,
            change_24h_pct=1.5,
            high_24h=61_000,
            low_24h=59_000,
            volume_24h=1e9,
            market_cap=1e12,
            last_updated=now,
        )
    return Sentiment(
        asset=channel.asset,
        label="neutral",
        score=0.0,
        confidence=0.5,
        summary=f"{n:08d} " + "x" * 270,
        drivers=[f"{n:08d} driver {i} " + "y" * 100 for i in range(5)],
        provider="bench",
        input_hash=f"{n:08d}",
        created_at=now,
    )


@dataclass(frozen=True)
class Topology:
    name: str
    url: str
    cluster: bool

    def client(self) -> Redis:
        slug = re.sub(r"[^a-z0-9]+", "-", self.name)  # a client name takes no spaces
        return create_redis(self.url, client_name=f"bench-{slug}", cluster=self.cluster)


STANDALONE = "standalone"
STANDALONE_REPLICATED = "standalone + replica"
CLUSTER = "cluster, 3 masters"
CLUSTER_REPLICATED = "cluster, 3 masters + 3 replicas"
# (baseline, cluster) pairs compared, the like-for-like ones first.
PAIRS = (
    (STANDALONE, CLUSTER),
    (STANDALONE_REPLICATED, CLUSTER_REPLICATED),
    (STANDALONE, CLUSTER_REPLICATED),
)


@contextmanager
def topologies(workdir: Path) -> Iterator[list[Topology]]:
    with (
        RedisServer(workdir / "standalone", appendonly=True) as server,
        RedisServer(workdir / "primary", appendonly=True) as primary,
        RedisServer(
            workdir / "replica",
            appendonly=True,
            extra_args=["--replicaof", "127.0.0.1", str(primary.port)],
        ),
        LocalCluster(workdir / "cluster", replicas_per_master=0) as cluster,
        LocalCluster(workdir / "cluster-replicated") as replicated,
    ):
        yield [
            Topology(STANDALONE, server.url, False),
            Topology(STANDALONE_REPLICATED, primary.url, False),
            Topology(CLUSTER, cluster.url, True),
            Topology(CLUSTER_REPLICATED, replicated.url, True),
        ]


@asynccontextmanager
async def connected(topology: Topology) -> AsyncIterator[Redis]:
    redis = topology.client()
    try:
        await redis.flushall()
        yield redis
    finally:
        await redis.aclose()


async def publish_round(redis: Redis, plan: Plan) -> float:
    """Seconds to publish `plan.per_channel` values on every channel, a coroutine each."""
    publisher = Publisher(redis, source="bench")
    values = {c: [value(c, n) for n in range(plan.per_channel)] for c in channels()}

    async def one_channel(channel: Channel) -> None:
        for item in values[channel]:
            await publisher.publish(channel, item)

    started = time.perf_counter()
    await asyncio.gather(*(one_channel(c) for c in channels()))
    return time.perf_counter() - started


class Counting:
    """An EventSink that counts the events read and says when `expected` have arrived."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.done = asyncio.Event()

    def prime(self, event: ChannelEvent) -> None:  # never: the backlog is read from 0-0
        raise AssertionError("the backlog reader starts at the origin")

    def publish(self, event: ChannelEvent) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.done.set()


class BacklogReader(StreamReader):
    """The gateway's reader, starting every stream at its first entry instead of its last
    (everything else — per-slot loops, batches, decoding — is the gateway's)."""

    async def _start_positions(self) -> dict[str, str]:
        return dict.fromkeys(self._names, ORIGIN)


async def read_round(redis: Redis, expected: int) -> float:
    """Seconds for the gateway's reader to deliver the whole backlog."""
    sink = Counting(expected)
    stop = asyncio.Event()
    reader = BacklogReader(redis, channels(), sink, stop=stop)
    started = time.perf_counter()
    task = asyncio.create_task(reader.run())
    try:
        await asyncio.wait_for(sink.done.wait(), 120)
        return time.perf_counter() - started
    finally:
        # As the gateway stops it: `stop`, then cancel (a cancel alone can be swallowed by
        # redis-py, redis/redis-py#2028; `stop` ends it after its current blocking read).
        stop.set()
        task.cancel()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)


async def measure(plan: Plan, tops: list[Topology]) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {t.name: {"publish": [], "read": []} for t in tops}
    total = plan.per_channel * len(channels())
    for round_no in range(plan.rounds):
        for topology in tops if round_no % 2 == 0 else list(reversed(tops)):
            async with connected(topology) as redis:
                times[topology.name]["publish"].append(await publish_round(redis, plan))
                times[topology.name]["read"].append(await read_round(redis, total))
            print(f"round {round_no + 1}/{plan.rounds} {topology.name} done", flush=True)
    return times


def report(plan: Plan, times: dict[str, dict[str, list[float]]]) -> str:
    total = plan.per_channel * len(channels())
    rows = []
    for path, what in (("publish", "values published /s"), ("read", "entries read /s")):
        for baseline, cluster in PAIRS:
            alone = statistics.median(times[baseline][path])
            spread = statistics.median(times[cluster][path])
            ratio = spread / alone
            mark = "✅" if ratio <= TARGET else "❌"
            rows.append(
                f"| {path}: {what} | {baseline} | {total / alone:,.0f} | {cluster} "
                f"| {total / spread:,.0f} | **{ratio:.2f}×** | ≤ {TARGET}× {mark} |"
            )
    return "\n".join(
        [
            "## Redis Cluster against standalone: the publish and read paths",
            "",
            "| path | standalone | /s | cluster | /s | cluster time / standalone | target |",
            "|---|---|---:|---|---:|---:|---|",
            *rows,
            "",
            f"{len(ASSETS)} assets × 2 channels (ticker, sentiment ~1.4 KB) × "
            f"{plan.per_channel} values, one publishing coroutine per channel; the gateway's "
            "StreamReader then reads that backlog from the start. Every server keeps an AOF; "
            "all run locally on the same cores as the benchmark, replicas included. Medians "
            f"of {plan.rounds} alternating round(s).",
        ]
    )


def main() -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp, topologies(Path(tmp)) as t:
        text = report(plan, uvloop.run(measure(plan, t)))
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
