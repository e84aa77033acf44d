"""A Redis Cluster master SIGKILLed mid-stream: its replica takes over, the product carries on.

The whole product (`make demo`'s four services) runs on a private three-master cluster with
MP_REDIS_CLUSTER=true. The master serving bitcoin's slot is killed while data flows and a
WebSocket client is subscribed. Then:

- no service restarts (the supervisor stops everything if one exits, so it must still run),
  and every service's health beacon is fresh after the failover;
- data flows again for the affected asset (REST and WebSocket), and the other asset's
  master was never involved;
- acknowledged work is not lost: every candle the compute group acknowledged on the
  promoted master has its indicators stored (lost = 0), and nothing is left pending;
- the WebSocket client's deltas chain without a break, except where it was told
  `recovered: false` with a fresh snapshot (history that went back with the old master);
- `/readyz` said `degraded` while the master was gone and `ready` afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
import websockets
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import read_snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_cluster import LocalCluster
from tests.beacons import live_instances
from tests.redis_fixtures import RedisTarget
from tests.system.conftest import Product, start_product, stop_product
from tests.waiting import eventually

pytestmark = pytest.mark.system

CHANNELS = ["ticker:bitcoin", "ticker:ethereum", "indicators:bitcoin:5m"]
SERVICES = ("ingestor", "compute", "sentiment", "gateway")
COMPUTE_GROUP = "compute"

T = TypeVar("T")


class Recorder:
    """A WebSocket client that keeps every frame with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, dict[str, Any]]] = []

    async def run(self, url: str) -> None:
        async with websockets.connect(url, open_timeout=10) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "channels": CHANNELS}).decode())
            async for raw in ws:
                self.frames.append((time.monotonic(), orjson.loads(raw)))

    def on(self, channel: str, after: float = 0.0) -> list[dict[str, Any]]:
        return [f for t, f in self.frames if t >= after and f.get("channel") == channel]


async def readiness(
    client: httpx.AsyncClient,
    base_url: str,
    states: list[tuple[float, str]],
    reasons: list[str],
) -> None:
    while True:
        try:
            body = (await client.get(f"{base_url}/readyz", timeout=2)).json()
            state = str(body["state"])
            states.append((time.monotonic(), state))
            if state == "unready":
                reasons.append(f"{time.monotonic():.1f} {body.get('reasons')} {body.get('redis')}")
        except (httpx.HTTPError, ValueError, KeyError):
            states.append((time.monotonic(), "no answer"))
        await asyncio.sleep(0.1)


def assert_chained(frames: list[dict[str, Any]]) -> int:
    """Deltas follow their predecessor by seq; a snapshot restarts the chain. Returns how
    many snapshots came after the first (resyncs)."""
    last_seq: str | None = None
    resyncs = 0
    for frame in frames:
        if frame["type"] == "snapshot":
            resyncs += last_seq is not None
            last_seq = frame["seq"]
        elif frame["type"] == "delta":
            assert frame["prev_seq"] == last_seq, f"broken chain at {frame['seq']}: {frames}"
            last_seq = frame["seq"]
    return resyncs


async def acknowledged_but_not_computed(redis: Redis, asset: str, tf: Timeframe) -> list[int]:
    """Open times of candles the compute group acknowledged whose indicators are missing."""
    stream = Channel(ChannelKind.CANDLES, asset, tf).stream_key
    groups = {g["name"]: g for g in await redis.xinfo_groups(stream)}
    last_delivered = str(groups[COMPUTE_GROUP]["last-delivered-id"])
    pending = {
        str(row["message_id"])
        for row in await redis.xpending_range(stream, COMPUTE_GROUP, "-", "+", 10_000)
    }
    acked = [
        orjson.loads(fields["d"])["t"]
        for entry_id, fields in await redis.xrange(stream, "-", last_delivered)
        if entry_id not in pending
    ]
    indicators = await read_snapshot(redis, Channel(ChannelKind.INDICATORS, asset, tf))
    done_up_to = indicators.ver if indicators is not None and indicators.ver else -1
    return [t for t in acked if t > done_up_to]


async def test_a_master_killed_mid_stream_is_replaced_and_no_acknowledged_work_is_lost(
    tmp_path: Path,
) -> None:
    cluster = LocalCluster(tmp_path / "cluster")
    await asyncio.to_thread(cluster.start)
    target = RedisTarget(cluster.url, cluster=True)
    product: Product | None = None
    redis = target.client("failover-test")
    tasks: list[asyncio.Task[Any]] = []
    http: httpx.AsyncClient | None = None
    try:
        product = start_product(tmp_path / "product", **target.env())
        http = httpx.AsyncClient(base_url=product.base_url)

        async def indicators_ready() -> bool:
            r = await get(http, "/v1/assets/bitcoin/indicators?tf=5m")
            return r is not None and r.status_code == 200

        async def gateway_ready() -> bool:
            r = await get(http, "/readyz")
            return r is not None and r.json().get("state") == "ready"

        await until(product, indicators_ready, timeout=60, what="bitcoin 5m indicators")
        await until(product, gateway_ready, timeout=30, what="/readyz ready before the failover")
        ws = Recorder()
        states: list[tuple[float, str]] = []
        reasons: list[str] = []
        tasks.append(asyncio.create_task(ws.run(product.ws_url)))
        tasks.append(asyncio.create_task(readiness(http, product.base_url, states, reasons)))
        await until(
            product, lambda: asyncio.sleep(0, len(ws.on("ticker:bitcoin")) >= 4), timeout=20,
            what="live bitcoin ticker deltas",
        )  # fmt: skip

        async def all_beating() -> bool:
            beacons = await live_instances(redis)
            fresh = {
                str(b["instance"]).split("-")[0] for b in beacons if b["ts"] > time.time() - 10
            }
            return fresh >= set(SERVICES)

        await until(product, all_beating, timeout=60, what="every service started and beating")
        victim = cluster.master_of(Channel(ChannelKind.TICKER, "bitcoin").stream_key)
        survivor = cluster.master_of(Channel(ChannelKind.TICKER, "ethereum").stream_key)
        assert victim is not survivor, "the test needs bitcoin and ethereum on two masters"
        killed_at = time.monotonic()
        victim.kill()
        await asyncio.to_thread(cluster.wait_ok, 60)
        healed_at = time.monotonic()

        # Data flows again for the asset whose master died, over WebSocket and REST.
        await until(
            product, lambda: asyncio.sleep(0, len(ws.on("ticker:bitcoin", after=healed_at)) >= 3),
            timeout=30, what="bitcoin ticker updates after the failover",
        )  # fmt: skip
        newest_candle = await until(
            product, lambda: newest_candle_open(redis), timeout=30, what="a bitcoin 5m candle"
        )
        await until(
            product, lambda: indicators_reach(redis, newest_candle), timeout=30,
            what="indicators of the newest candle after the failover",
        )  # fmt: skip

        # Acknowledged work: nothing the compute group acked lacks its result (lost = 0).
        lost = await acknowledged_but_not_computed(redis, "bitcoin", Timeframe.M5)
        assert lost == [], f"acknowledged candles without indicators: {lost}"

        # Every service is alive (none restarted) and beating.
        assert product.proc.poll() is None, product.output()

        await until(product, all_beating, timeout=30, what="a fresh beacon from every service")

        # /readyz reported the degradation while it lasted, and recovered.
        await until(
            product, lambda: asyncio.sleep(0, states and states[-1][1] == "ready"), timeout=20,
            what="/readyz ready again",
        )  # fmt: skip
        during = {s for t, s in states if killed_at <= t <= healed_at}
        assert "degraded" in during, f"/readyz during the failover: {during}"
        assert "unready" not in {s for _, s in states}, (killed_at, healed_at, reasons)

        # The client's view: deltas chain, or it was told recovered: false with a snapshot.
        for channel in CHANNELS:
            frames = ws.on(channel)
            resyncs = assert_chained(frames)
            told = [f for f in frames if f["type"] == "subscribed" and not f["recovered"]]
            assert len(told) == 1 + resyncs
        assert len(ws.on("ticker:ethereum", after=healed_at)) >= 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if http is not None:
            await http.aclose()
        await redis.aclose()
        if product is not None:
            stop_product(product)
            # Shown by pytest only when the test fails: what each service said.
            print("\n".join(line for line in product.lines if '"level": "info"' not in line))
        await asyncio.to_thread(cluster.stop)


async def get(http: httpx.AsyncClient, path: str) -> httpx.Response | None:
    try:
        return await http.get(path, timeout=2)
    except httpx.HTTPError:
        return None


async def until(
    product: Product, probe: Callable[[], Awaitable[T]], *, timeout: float, what: str
) -> T:
    """`eventually`, failing at once with the product's output when the product exited (a
    service that died stops them all): otherwise a service that did not carry on after the
    failover would only show as a timed-out wait for data."""

    async def checked() -> T:
        if product.proc.poll() is not None:
            raise AssertionError(f"the product exited before {what}:\n{product.output()}")
        return await probe()

    return await eventually(checked, timeout=timeout, what=what)


async def newest_candle_open(redis: Redis) -> int | None:
    entries = await redis.xrevrange(
        Channel(ChannelKind.CANDLES, "bitcoin", Timeframe.M5).stream_key, count=1
    )
    return int(orjson.loads(entries[0][1]["d"])["t"]) if entries else None


async def indicators_reach(redis: Redis, open_time: int) -> bool:
    snap = await read_snapshot(redis, Channel(ChannelKind.INDICATORS, "bitcoin", Timeframe.M5))
    return snap is not None and snap.ver is not None and snap.ver >= open_time
