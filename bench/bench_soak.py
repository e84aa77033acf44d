"""Soak: the whole product as processes for a long run under steady load; does it stay flat?

A private redis-server and every service as an operator starts it (`python -m
marketpulse_<name>`): ingestor (simulated market at MP_SIM_SPEED=60, three assets, all
timeframes), compute, sentiment (heuristic provider) and a gateway. Against it:

- 500 WebSocket clients, each following its asset's ticker, 5m candles and 5m indicators,
  checking on every delta that `prev_seq` is the seq it holds (a gap is a lost update) and
  timing each delivery from the entry's Redis stream id (milliseconds of the XADD on the same
  machine) to its arrival;
- a steady REST load (20 requests/s over the data endpoints), counting 5xx.

Every SAMPLE_S seconds it records the RSS of every process, Redis's used_memory, and every
stream's length against the bound its producer trims it to. Reported: RSS over time and its
growth over the second half of the run (after warm-up), Redis memory and stream lengths
against their bounds, delivery p50/p99, and losses (gaps, clients closed, 5xx).
Targets: growth ≤ 5 % over the last half for every service, zero loss. Redis's memory grows
by design until every stream has reached the bound it is trimmed to; the report says how full
they are and, from the second half's memory per entry, where Redis's memory levels off.

    .venv/bin/python bench/bench_soak.py [--quick] [--minutes N] [--markdown PATH]

Default 10 minutes (the lead runs it; `make bench`); `--quick` is about one minute, for CI
smoke runs, and too short to judge memory.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from cli import bench_parser, publish
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_compute.service import EVALUATION_MAXLEN, INDICATORS_MAXLEN
from marketpulse_dev.embedded_redis import RedisServer, free_port
from marketpulse_ingestor.refresher import CANDLE_STREAM_MAXLEN, TICKER_STREAM_MAXLEN
from marketpulse_sentiment.service import SENTIMENT_STREAM_MAXLEN

ASSETS = ("bitcoin", "ethereum", "solana")
TIMEFRAMES = ("5m", "1h", "4h", "1d")
SERVICES = ("ingestor", "compute", "sentiment", "gateway")
CLIENTS = 500
REST_PER_S = 20.0
SAMPLE_S = 10.0
TARGET_GROWTH = 0.05
# What each stream kind's producer trims it to ("about": trimming runs periodically).
BOUNDS = {
    ChannelKind.TICKER: TICKER_STREAM_MAXLEN,
    ChannelKind.CANDLES: CANDLE_STREAM_MAXLEN,
    ChannelKind.INDICATORS: INDICATORS_MAXLEN,
    ChannelKind.FORECAST: INDICATORS_MAXLEN,
    ChannelKind.EVALUATION: EVALUATION_MAXLEN,
    ChannelKind.SENTIMENT: SENTIMENT_STREAM_MAXLEN,
}


# --- the product ---------------------------------------------------------------------------


@dataclass
class Product:
    workdir: Path
    redis_server: RedisServer
    port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MP_", "ANTHROPIC_"))}
        return {
            **env,
            "MP_REDIS_URL": self.redis_server.url,
            "MP_ASSETS": ",".join(ASSETS),
            "MP_TIMEFRAMES": ",".join(TIMEFRAMES),
            "MP_SOURCE": "simulated",
            "MP_SIM_SPEED": "60",
            "MP_GATEWAY_PORT": str(self.port),
            "MP_RATE_LIMIT_PER_MINUTE": "0",  # 500 handshakes and the REST load from one address
            "MP_SENTIMENT_PROVIDER": "heuristic",
            "MP_LOG_FORMAT": "json",
            "MP_LOG_LEVEL": "warning",
        }

    def start(self) -> None:
        self.redis_server.start()
        for service in SERVICES:
            log = (self.workdir / f"{service}.log").open("wb")
            self.procs[service] = subprocess.Popen(
                [sys.executable, "-m", f"marketpulse_{service}"],
                env=self.env(),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit("the gateway did not answer /healthz within 60 s")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.redis_server.stop()

    def pids(self, client: redis.Redis) -> dict[str, int]:
        found = {name: proc.pid for name, proc in self.procs.items()}
        found["redis-server"] = int(client.info("server")["process_id"])
        return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- load ----------------------------------------------------------------------------------


@dataclass
class Deliveries:
    latencies_ms: list[float] = field(default_factory=list)
    deltas: int = 0
    gaps: int = 0
    closed: Counter[str] = field(default_factory=Counter)
    connected: int = 0


def stream_ms(seq: str) -> int:
    return int(seq.partition("-")[0])


async def ws_client(url: str, n: int, out: Deliveries, stop: asyncio.Event) -> None:
    asset = ASSETS[n % len(ASSETS)]
    channels = [f"ticker:{asset}", f"candles:{asset}:5m", f"indicators:{asset}:5m"]
    held: dict[str, str | None] = {}
    try:
        async with connect(url, open_timeout=30, max_size=None, compression=None) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "channels": channels}).decode())
            out.connected += 1
            while not stop.is_set():
                try:
                    frame = orjson.loads(await asyncio.wait_for(ws.recv(), 1.0))
                except TimeoutError:
                    continue
                kind = frame["type"]
                if kind == "snapshot":
                    held[frame["channel"]] = frame["seq"]
                elif kind == "delta":
                    now_ms = time.time() * 1000
                    out.deltas += 1
                    if frame["prev_seq"] != held.get(frame["channel"]):
                        out.gaps += 1
                    held[frame["channel"]] = frame["seq"]
                    out.latencies_ms.append(now_ms - stream_ms(frame["seq"]))
    except ConnectionClosed as e:
        out.closed[str(e.rcvd.code if e.rcvd else "no close frame")] += 1
    except (OSError, InvalidStatus, TimeoutError) as e:
        out.closed[type(e).__name__] += 1


async def rest_load(base_url: str, stop: asyncio.Event, statuses: Counter[int]) -> None:
    paths = [f"/v1/assets/{a}/{r}" for a in ASSETS for r in ("ticker", "snapshot")]
    paths += [f"/v1/assets/{a}/{r}?tf={tf}" for a in ASSETS for r in ("candles", "indicators")
              for tf in ("5m", "1h")]  # fmt: skip
    paths.append("/v1/assets")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while not stop.is_set():
            started = time.monotonic()
            try:
                statuses[(await http.get(random.choice(paths))).status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1  # no answer at all
            await asyncio.sleep(max(0.0, 1 / REST_PER_S - (time.monotonic() - started)))


# --- samples -------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    rss: dict[str, float]
    used_memory_mib: float
    stream_max: dict[str, tuple[int, int]]  # kind -> (longest stream, bound)
    entries: int  # entries held over every channel stream
    capacity: int  # what every channel stream holds once trimmed to its bound


def sample(product: Product, client: redis.Redis, started: float) -> Sample:
    rss = {name: rss_mib(pid) for name, pid in product.pids(client).items()}
    used = int(client.info("memory")["used_memory"]) / 2**20
    longest: dict[str, tuple[int, int]] = {}
    entries = capacity = 0
    for key in client.scan_iter(match="mp:*:stream:*", count=1000):
        try:
            channel = Channel.from_stream_key(key)
        except ValueError:
            continue
        length = int(client.xlen(key))
        bound = BOUNDS[channel.kind]
        entries, capacity = entries + min(length, bound), capacity + bound
        if length > longest.get(channel.kind.value, (0, bound))[0]:
            longest[channel.kind.value] = (length, bound)
    return Sample(time.monotonic() - started, rss, used, longest, entries, capacity)


async def soak(
    product: Product, seconds: float, sample_s: float
) -> tuple[list[Sample], Deliveries, Counter[int]]:
    stop = asyncio.Event()
    out, statuses = Deliveries(), Counter[int]()
    url = product.base_url.replace("http", "ws", 1) + "/v1/stream"
    client = redis.Redis.from_url(product.redis_server.url, decode_responses=True)
    tasks = []
    for n in range(CLIENTS):  # connect in waves, as a fleet of dashboards would
        tasks.append(asyncio.create_task(ws_client(url, n, out, stop)))
        if n % 50 == 49:
            await asyncio.sleep(0.5)
    tasks.append(asyncio.create_task(rest_load(product.base_url, stop, statuses)))
    started = time.monotonic()
    samples = [sample(product, client, started)]
    while time.monotonic() - started < seconds:
        await asyncio.sleep(sample_s)
        samples.append(await asyncio.to_thread(sample, product, client, started))
        print(f"  {samples[-1].t:5.0f} s  " + "  ".join(
            f"{k} {v:.0f}" for k, v in samples[-1].rss.items()) + " MiB", flush=True)  # fmt: skip
    stop.set()
    await asyncio.gather(*tasks)
    client.close()
    return samples, out, statuses


# --- report --------------------------------------------------------------------------------


def growth(values: list[float]) -> float:
    """Relative growth over the second half: last value against the one at the half-way mark."""
    mid = values[len(values) // 2]
    return (values[-1] - mid) / mid if mid else 0.0


def redis_at_bounds_mib(samples: list[Sample]) -> float | None:
    """Redis's used_memory once every stream holds its bound: the second half's memory per
    stream entry, extrapolated. None when no entries were added over the second half."""
    mid, last = samples[len(samples) // 2], samples[-1]
    added = last.entries - mid.entries
    if added <= 0:
        return None
    per_entry = (last.used_memory_mib - mid.used_memory_mib) / added
    return last.used_memory_mib + (last.capacity - last.entries) * per_entry


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else 0.0


def table(samples: list[Sample], out: Deliveries, statuses: Counter[int], quick: bool) -> str:
    names = list(samples[0].rss)
    picks = sorted(
        {0, len(samples) // 4, len(samples) // 2, 3 * len(samples) // 4, len(samples) - 1}
    )
    lines = [
        f"## Soak: {CLIENTS} WebSocket clients + {REST_PER_S:.0f} REST req/s, 60× simulated time, "
        f"{samples[-1].t / 60:.1f} min" + (" (quick: too short to judge memory)" if quick else ""),
        "",
        "RSS (MiB) over time, and growth over the second half (target ≤ 5 % for the "
        "services; Redis grows by design until its streams reach their bounds):",
        "",
        "| process | " + " | ".join(f"{samples[i].t:.0f} s" for i in picks) + " | growth |",
        "|---|" + "---|" * (len(picks) + 1),
    ]
    growths = {}
    for name in names:
        series = [s.rss[name] for s in samples]
        g = growths[name] = growth(series)
        lines.append(f"| {name} | " + " | ".join(f"{series[i]:.1f}" for i in picks)
                     + f" | {g * 100:+.1f} % |")  # fmt: skip
    used = [s.used_memory_mib for s in samples]
    lines.append("| redis used_memory | " + " | ".join(f"{used[i]:.1f}" for i in picks)
                 + f" | {growth(used) * 100:+.1f} % |")  # fmt: skip
    last = samples[-1].stream_max
    lines += [
        "",
        "Longest stream of each kind at the end, against the bound its producer trims to:",
        "",
    ]
    lines += ["| stream kind | longest | bound |", "|---|---|---|"]
    lines += [f"| {kind} | {length} | {bound} |" for kind, (length, bound) in sorted(last.items())]
    filled = samples[-1].entries / samples[-1].capacity if samples[-1].capacity else 0.0
    at_bounds = redis_at_bounds_mib(samples)
    lines += [
        "",
        f"Every channel stream together holds {samples[-1].entries:,} entries, "
        f"{filled * 100:.0f} % of the {samples[-1].capacity:,} their bounds allow"
        + (
            f"; at the second half's memory per entry, Redis's used_memory reaches about "
            f"{at_bounds:.0f} MiB when all are full, and stays there."
            if at_bounds is not None
            else "."
        ),
    ]
    p50, p99 = percentile(out.latencies_ms, 0.5), percentile(out.latencies_ms, 0.99)
    worst = max(g for name, g in growths.items() if name in SERVICES)
    five_xx = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    lost = out.gaps + sum(out.closed.values())
    lines += [
        "",
        f"Deliveries: {out.deltas:,} deltas to {out.connected} clients; stream-entry-to-client "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms.",
        f"Loss: {out.gaps} seq gaps, {sum(out.closed.values())} clients closed "
        f"({dict(out.closed) or 'none'}); REST: {sum(statuses.values()):,} requests, "
        f"{five_xx} 5xx or unanswered ({dict(sorted(statuses.items()))}).",
        "",
        "| target | met | value |",
        "|---|---|---|",
        f"| RSS growth ≤ 5 % over the last half, every service | "
        f"{'yes' if worst <= TARGET_GROWTH else 'no'}{' (quick run)' if quick else ''} | "
        f"max {worst * 100:+.1f} % |",
        f"| zero loss (gaps, closed clients, 5xx) | {'yes' if lost + five_xx == 0 else 'no'} | "
        f"{lost + five_xx} |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = bench_parser(__doc__, quick_help="about a minute, for a smoke test")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the full run")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    seconds = 60.0 if args.quick else args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        product = Product(workdir, RedisServer(workdir / "redis", appendonly=True), free_port())
        try:
            product.start()
            time.sleep(5)  # the first ticks and backfill, before clients arrive
            samples, out, statuses = asyncio.run(
                soak(product, seconds, 5.0 if args.quick else SAMPLE_S)
            )
        finally:
            product.stop()
    text = table(samples, out, statuses, args.quick)
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
