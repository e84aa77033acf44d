"""How the parts scale: compute replicas draining a backlog, and one gateway holding many
WebSocket clients (memory per connection, delivery p99) and two gateways against one.

1. compute: a burst of candle events (several assets, a cached history behind each) drained
   by 1 and by 2 `python -m marketpulse_compute` processes, the same burst on a fresh Redis
   each round, rounds alternating; events/s from the first publish to the group's lag and
   pending both at 0 (XINFO GROUPS). Target ≥ 1.7× with 2 replicas.
2. gateway, many clients: one gateway process (`bench_ws.py`'s, the app as uvicorn serves
   it) and N clients of bench_ws's minimal client on one uvloop, each subscribed to one
   ticker channel; RSS of the gateway before and after they connect (per connection), then
   one event a second to every client and the p99 from publish to receipt. Targets
   ≤ 20 KB per connection, p99 ≤ 50 ms at 10,000 clients. Beside the p99, what the gateway
   alone takes (its own ws_delivery_lag: publish → the last frame of an event written) and
   its CPU per delivery, user and system apart: the clients' reading is in the p99 too. The
   gateways pin themselves to core 0 (bench_ws); the clients are left unpinned here: pinned
   to core 1 they read 10,000 sockets per event markedly slower (p99 361 and 768 ms against
   180 and 250 ms unpinned, the gateway's own part unchanged at 165–180 ms).
3. gateway, one process vs two: the same clients split over two gateway processes on the
   same channel, sustained deliveries/s in closed loop (bench_ws's), against one process.
   Target ≥ 1.6×. bench_ws pins every server process to core 0 and the clients hold core 1,
   so on a 2-core machine the two gateways split one core: the ratio then shows what
   splitting costs, and only a machine with a core per gateway can show the gain.

    .venv/bin/python bench/bench_scaling.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import statistics
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvloop
from redis.asyncio import Redis

from bench_ws import Load, percentile, progress, server
from cli import bench_parser, publish
from marketpulse_common.connection import create_redis
from marketpulse_common.events import Candle, encode_payload
from marketpulse_common.keys import Channel, ChannelKind, candles_key, health_pattern
from marketpulse_common.publisher import Publisher
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer

ROOT = Path(__file__).resolve().parents[1]
TF = Timeframe.H1
HISTORY = 400  # candles cached per asset before the burst
COMPUTE_GROUP = "compute"


@dataclass(frozen=True)
class Plan:
    assets: int
    events_per_asset: int
    compute_rounds: int
    many_clients: int
    paced_s: int
    split_clients: int
    split_events: int


QUICK = Plan(
    assets=2,
    events_per_asset=30,
    compute_rounds=1,
    many_clients=500,
    paced_s=5,
    split_clients=200,
    split_events=60,
)
FULL = Plan(
    assets=6,
    events_per_asset=120,
    compute_rounds=3,
    many_clients=10_000,
    paced_s=20,
    split_clients=1000,
    split_events=200,
)


def fan_out_lag(port: int) -> tuple[float, float]:
    """(sum of seconds, count) of the gateway's own ws_delivery_lag: publish → the last frame
    of an event written to its subscribers, as the gateway sees it (no client involved)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("marketpulse_gateway_ws_delivery_lag_seconds_"):
            found[name.split("{")[0].rsplit("_", 1)[1]] = float(value.split()[-1])
    return found.get("sum", 0.0), found.get("count", 0.0)


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# --- 1. compute replicas -------------------------------------------------------------------


def candles(seed: int) -> list[Candle]:
    rng, price, out = random.Random(seed), 100.0, []
    start = (int(time.time()) // TF.seconds - HISTORY) * TF.seconds
    for i in range(HISTORY):
        close = price * (1 + rng.gauss(0, 0.01))
        high, low = max(price, close) * 1.002, min(price, close) * 0.998
        out.append(Candle(t=start + i * TF.seconds, o=price, h=high, l=low, c=close, v=5.0))
        price = close
    return out


def compute_env(redis_url: str, assets: list[str]) -> dict[str, str]:
    return {
        **os.environ,
        "MP_REDIS_URL": redis_url,
        "MP_ASSETS": ",".join(assets),
        "MP_TIMEFRAMES": TF.value,
        "MP_LOG_LEVEL": "warning",
        "MP_SOURCE": "simulated",
    }


async def poll(probe: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def drained(redis: Redis, streams: list[str]) -> bool:
    for stream in streams:
        groups = await redis.xinfo_groups(stream)
        mine = [g for g in groups if g["name"] == COMPUTE_GROUP]
        if not mine or mine[0]["lag"] != 0 or mine[0]["pending"] != 0:
            return False
    return True


async def drain_round(replicas: int, plan: Plan, workdir: Path) -> float:
    """Events/s for `replicas` compute processes draining one burst on a fresh Redis."""
    assets = [f"scale{n}" for n in range(plan.assets)]
    channels = [Channel(ChannelKind.CANDLES, a, TF) for a in assets]
    server_ = RedisServer(workdir / f"redis-{replicas}-{time.monotonic_ns()}")
    server_.start()
    redis = create_redis(server_.url, client_name="bench-scaling")
    procs: list[asyncio.subprocess.Process] = []
    try:
        histories = {a: candles(seed) for seed, a in enumerate(assets)}
        for asset, history in histories.items():
            await redis.zadd(candles_key(asset, TF), {encode_payload(c): c.t for c in history})
        env = compute_env(server_.url, assets)
        for _ in range(replicas):
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "marketpulse_compute", env=env
                )
            )
        streams = [c.stream_key for c in channels]

        async def up() -> bool:
            beacons = [k async for k in redis.scan_iter(health_pattern("compute"))]
            # The streams exist once a consumer has created its group on them.
            return len(beacons) >= replicas and all([await redis.exists(s) for s in streams])

        await poll(up, 60, "the compute replicas")
        publisher = Publisher(redis, source="bench")
        started = time.monotonic()
        for i in range(HISTORY - plan.events_per_asset, HISTORY):
            for channel in channels:
                candle = histories[channel.asset][i]
                await publisher.publish(channel, candle, ver=candle.t)
        await poll(lambda: drained(redis, streams), 600, "the backlog drained")
        return plan.assets * plan.events_per_asset / (time.monotonic() - started)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await redis.aclose()
        server_.stop()


async def measure_compute(plan: Plan, workdir: Path) -> dict[int, list[float]]:
    rates: dict[int, list[float]] = {1: [], 2: []}
    for round_ in range(plan.compute_rounds):
        for replicas in (1, 2) if round_ % 2 == 0 else (2, 1):
            rate = await drain_round(replicas, plan, workdir)
            rates[replicas].append(rate)
            progress(f"compute x{replicas}: {rate:,.0f} events/s")
    return rates


# --- 2 and 3. gateways ----------------------------------------------------------------------


@asynccontextmanager
async def gateways(count: int, redis_url: str) -> AsyncIterator[list[tuple[int, int]]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(server("gateway", redis_url)) for _ in range(count)]


async def paced_p99(load: Load, seconds: int) -> float:
    """One event a second to every client for `seconds`; p99 publish → receipt, in ms."""
    load.tally.latencies = []
    load.tally.measure_from = load.next_index
    started = time.monotonic()
    for n in range(seconds):
        await asyncio.sleep(max(0.0, started + n - time.monotonic()))
        index = await load.publish_one()
        await load.wait_complete(index, within_s=30)
    load.tally.measure_from = 1 << 62
    if load.tally.disorder:
        raise AssertionError("reordered deliveries")
    return percentile(load.tally.latencies, 0.99)


@dataclass
class GatewayFigures:
    clients: int
    rss_before_kb: int
    rss_after_kb: int
    p99_ms: float
    written_ms: float  # mean publish → last frame written, from the gateway's own metric
    user_us: float  # gateway CPU per delivery in the paced rounds
    system_us: float
    one_rate: float
    two_rate: float

    @property
    def per_connection_kb(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / self.clients


async def measure_gateways(plan: Plan, redis_url: str) -> GatewayFigures:
    redis = create_redis(redis_url, client_name="bench-scaling")
    publisher = Publisher(redis, source="bench")
    try:
        async with gateways(1, redis_url) as [(port, pid)]:
            warm = Load("gateway", publisher, 10)
            await warm.connect(port)
            warm.close()
            await asyncio.sleep(1.0)
            before = rss_kb(pid)
            many = Load("gateway", publisher, plan.many_clients)
            many.next_index = warm.next_index  # every event a new price: a delta carries it
            await many.connect(port)
            await asyncio.sleep(1.0)
            after = rss_kb(pid)
            progress(
                f"{plan.many_clients} clients: {(after - before) / plan.many_clients:.1f} KB each"
            )
            lag_before, cpu_before = fan_out_lag(port), cpu_split(pid)
            p99 = await paced_p99(many, plan.paced_s)
            lag_after, cpu_after = fan_out_lag(port), cpu_split(pid)
            written = (lag_after[0] - lag_before[0]) / (lag_after[1] - lag_before[1]) * 1000
            deliveries = plan.paced_s * plan.many_clients
            spent = zip(cpu_after, cpu_before, strict=True)
            user, system = ((a - b) / deliveries * 1e6 for a, b in spent)
            progress(
                f"p99 at 1 event/s each: {p99:.1f} ms; the gateway's last write {written:.1f} ms "
                f"after publish; {user:.1f} + {system:.1f} µs CPU (user + system) per delivery"
            )
            many.close()
        rates, next_index = {}, many.next_index
        for count in (1, 2):
            async with gateways(count, redis_url) as started:
                load = Load("gateway", publisher, plan.split_clients)
                load.next_index = next_index
                await load.connect(*(port for port, _pid in started))
                rates[count] = await load.closed_loop(plan.split_events)
                next_index = load.next_index
                load.close()
                progress(f"{count} gateway(s): {rates[count]:,.0f} deliveries/s")
        return GatewayFigures(
            plan.many_clients, before, after, p99, written, user, system, rates[1], rates[2]
        )
    finally:
        await redis.aclose()


# --- report -----------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def report(plan: Plan, compute: dict[int, list[float]], gw: GatewayFigures) -> str:
    one, two = statistics.median(compute[1]), statistics.median(compute[2])
    ratio = two / one
    split = gw.two_rate / gw.one_rate
    kb = gw.per_connection_kb
    return "\n".join(
        [
            "## Scaling: compute replicas, gateway connections, gateway processes",
            "",
            "| part | 1 | 2 | ratio | target |",
            "|---|---:|---:|---:|---|",
            f"| compute: candle events drained /s (replicas) | {one:,.0f} | {two:,.0f} "
            f"| **{ratio:.2f}×** | ≥ 1.7× {mark(ratio >= 1.7)} |",
            f"| gateway: deliveries/s, closed loop (processes) | {gw.one_rate:,.0f} "
            f"| {gw.two_rate:,.0f} | **{split:.2f}×** | ≥ 1.6× {mark(split >= 1.6)} |",
            "",
            f"| one gateway, {gw.clients:,} clients | measured | target |",
            "|---|---:|---|",
            f"| memory per connection (RSS growth / clients) | {kb:.1f} KB "
            f"| ≤ 20 KB {mark(kb <= 20)} |",
            f"| p99 publish → client at 1 event/s each | {gw.p99_ms:.1f} ms "
            f"| ≤ 50 ms {mark(gw.p99_ms <= 50)} |",
            f"| of which the gateway: publish → its last write of an event (mean) "
            f"| {gw.written_ms:.1f} ms | |",
            f"| gateway CPU per delivery, user + system | {gw.user_us:.1f} + {gw.system_us:.1f} µs "
            "| |",
            "",
            f"Compute: {plan.assets} assets × {plan.events_per_asset} candle events (1h, "
            f"{HISTORY} cached candles behind each), medians of {plan.compute_rounds} alternating "
            "rounds, each on a fresh Redis; every event gets indicators and a forecast. Gateway: "
            "bench_ws's gateway process and minimal clients on one uvloop, one ticker channel; "
            f"the split row deals {plan.split_clients:,} clients over the processes, which "
            f"bench_ws pins to one core while the clients hold another ({os.cpu_count()} cores "
            "here): with two cores in all, the two gateways split one, so that row shows what "
            "splitting costs, not what a second core gains. Compute replicas and Redis share "
            "every core.",
            "",
        ]
    )


async def measure(plan: Plan, workdir: Path) -> str:
    compute = await measure_compute(plan, workdir)
    redis = RedisServer(workdir / "redis-gateway")
    redis.start()
    try:
        gw = await measure_gateways(plan, redis.url)
    finally:
        redis.stop()
    return report(plan, compute, gw)


def main() -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    plan = QUICK if args.quick else FULL
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        text = uvloop.run(measure(plan, Path(tmp)))
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
