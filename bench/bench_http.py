"""Cached `GET /v1/assets/{asset}/ticker` on the real gateway against a bare ASGI app.

Both servers run the same way: uvicorn, one worker, `--loop uvloop --http httptools`, access
log off, each pinned to the same dedicated core, and measured alternately in this one run.
The bare app answers every request with the very bytes and headers the gateway served; the
gateway runs with its production code path (edge guards, rate limiter on with a limit this
load never reaches, metrics), against a private redis-server holding one ticker.

- Throughput: closed loop with `wrk` (64 connections) pinned to the other cores, in short
  runs alternating the two servers (ABBA); the ratio gateway / bare is the median of the
  per-pair ratios (target ≥ 0.80).
- Latency at a fixed offered load of 2,000 req/s: a constant-rate generator (below) that
  sends on schedule and measures each response from its *scheduled* send time, so a stall
  cannot hide queued requests (no coordinated omission). Target p99 ≤ 3 ms.
- Server CPU time per request (from /proc), at full load and at the fixed load: on a machine
  shared with other work, wall-clock throughput swings with that work, while CPU time per
  request says what one core can serve.

Without wrk the throughput part falls back to the same generator in closed-loop mode (it is
slower than wrk, so the script says so); `--install-tools` installs the Debian package when
run as root. `--nice -10` (root) favours the measured processes on a busy machine.

    .venv/bin/python bench/bench_http.py [--quick] [--markdown PATH] [--install-tools] [--nice N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cli import bench_parser, publish

ASSET = "bitcoin"
PATH = f"/v1/assets/{ASSET}/ticker"
TARGET_RATIO = 0.80
TARGET_P99_MS = 3.0
OFFERED_RATE = 2000
CONNECTIONS = 64
HEADERS_KEPT = ("content-type", "etag", "cache-control")


# --- the servers (run as child processes of this script) -------------------------------


def bare_app(body: bytes, headers: list[tuple[bytes, bytes]]) -> Callable[..., Any]:
    """The baseline: an ASGI app that answers every request with fixed bytes."""
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    message = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send(start)
        await send(message)

    return app


def serve(kind: str, port: int, body_file: Path | None) -> None:
    import uvicorn

    if kind == "gateway":
        from marketpulse_common.settings import load_settings
        from marketpulse_gateway.app import create_app

        app: Any = create_app(load_settings())
    else:
        assert body_file is not None
        saved = orjson.loads(body_file.read_bytes())
        body = saved["body"].encode()
        headers = [(k.encode(), v.encode()) for k, v in saved["headers"]]
        headers.append((b"content-length", str(len(body)).encode()))
        app = bare_app(body, headers)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
        log_level="warning",
        server_header=False,
        lifespan="on",
    )


# --- the load generator ---------------------------------------------------------------


class _Conn:
    __slots__ = ("buffer", "scheduled", "sock")

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buffer = b""
        self.scheduled = 0.0


_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def _complete(conn: _Conn) -> int | None:
    """Status of the response complete in the buffer (consumed), or None if it is partial."""
    end = conn.buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = conn.buffer[:end]
    match = _LENGTH.search(head)
    total = end + 4 + (int(match.group(1)) if match else 0)
    if len(conn.buffer) < total:
        return None
    conn.buffer = conn.buffer[total:]
    return int(head[9:12])


@dataclass
class Run:
    latencies_s: list[float]
    statuses: dict[int, int]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


class Generator:
    """Keep-alive HTTP/1.1 GETs over non-blocking sockets and select(), in one thread.

    select() rather than epoll: its timeout has microsecond resolution, epoll's whole
    milliseconds, and a request due in 300 µs must not wait a millisecond to be sent.
    """

    REQUEST = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()

    def __init__(self, port: int, connections: int) -> None:
        self.conns = [_Conn(port) for _ in range(connections)]
        self._by_sock = {c.sock: c for c in self.conns}
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.in_flight = 0

    def send(self, conn: _Conn, scheduled: float) -> None:
        conn.scheduled = scheduled
        conn.sock.send(self.REQUEST)
        self.in_flight += 1

    def poll(self, timeout: float) -> list[_Conn]:
        """Wait up to `timeout` for responses; record them; return the connections now idle."""
        idle = []
        readable, _, _ = select.select(list(self._by_sock), [], [], timeout)
        for sock in readable:
            conn = self._by_sock[sock]
            data = conn.sock.recv(65536)
            if not data:
                raise RuntimeError("the server closed a connection with a request outstanding")
            conn.buffer += data
            while (status := _complete(conn)) is not None:
                self.latencies.append(time.perf_counter() - conn.scheduled)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.in_flight -= 1
                idle.append(conn)
        return idle

    def close(self) -> None:
        for conn in self.conns:
            conn.sock.close()


def closed_loop(port: int, seconds: float, connections: int = CONNECTIONS) -> Run:
    """Every connection always has one request outstanding: the server's maximum rate."""
    gen = Generator(port, connections)
    started = time.perf_counter()
    end = started + seconds
    for conn in gen.conns:
        gen.send(conn, time.perf_counter())
    give_up = end + 30
    while gen.in_flight:
        if time.perf_counter() > give_up:
            raise RuntimeError(f"{gen.in_flight} requests never answered")
        for conn in gen.poll(0.05):
            if time.perf_counter() < end:
                gen.send(conn, time.perf_counter())
    gen.close()
    return Run(gen.latencies, gen.statuses, time.perf_counter() - started)


def fixed_rate(port: int, seconds: float, rate: float, connections: int = 16) -> Run:
    """Send at `rate` per second on schedule; latency counts from the scheduled time.

    Idle connections are used in turn (first in, first out) so none sits idle long enough
    for the server's keep-alive timeout to close it.
    """
    gen = Generator(port, connections)
    idle, due = deque(gen.conns), deque[float]()
    interval = 1.0 / rate
    started = time.perf_counter()
    total = int(seconds * rate)
    give_up = started + seconds + 30
    for i in range(total + 1):
        scheduled = started + i * interval if i < total else None
        while True:
            now = time.perf_counter()
            if scheduled is not None and now >= scheduled:
                due.append(scheduled)
                break
            if scheduled is None and not gen.in_flight and not due:
                break
            if now > give_up:
                raise RuntimeError(f"{gen.in_flight} requests never answered")
            while due and idle:
                gen.send(idle.popleft(), due.popleft())
            idle += gen.poll(max(0.0, scheduled - now) if scheduled is not None else 0.01)
    gen.close()
    return Run(gen.latencies, gen.statuses, time.perf_counter() - started)


def wrk_rate(port: int, seconds: float, cores: list[int]) -> tuple[float, int]:
    """Requests per second and requests answered, by wrk in closed loop."""
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s"]
    args.append(f"http://127.0.0.1:{port}{PATH}")
    done = subprocess.run(
        ["taskset", "-c", ",".join(map(str, cores)), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in done.stdout:
        raise SystemExit(f"wrk saw non-2xx responses:\n{done.stdout}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    if not rate or not total:
        raise SystemExit(f"cannot read wrk's output:\n{done.stdout}")
    return float(rate.group(1)), int(total.group(1))


# --- orchestration --------------------------------------------------------------------


# Server process by port, to read its CPU time.
PIDS: dict[int, int] = {}
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(port: int) -> float:
    """User + system CPU time of the server on `port` (robust to other load on the box)."""
    fields = Path(f"/proc/{PIDS[port]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(
    kind: str, core: int, env: dict[str, str], body_file: Path | None = None
) -> Iterator[int]:
    port = free_port()
    args = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    if body_file:
        args += ["--body-file", str(body_file)]
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, preexec_fn=lambda: os.sched_setaffinity(0, {core})
    )  # niceness is inherited from this process (see --nice)
    PIDS[port] = proc.pid
    try:
        wait_ok(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(15)


def get(port: int, path: str = PATH) -> tuple[int, bytes, list[tuple[str, str]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.read(), list(response.headers.items())


def wait_ok(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if get(port)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not answer 200 within 30 s")


def l1_hits(port: int) -> float:
    text = get(port, "/metrics")[1].decode()
    match = re.search(r'marketpulse_gateway_cache_hits_total\{layer="l1"\} ([\d.e+]+)', text)
    return float(match.group(1)) if match else 0.0


def seed_redis(url: str) -> None:
    from datetime import UTC, datetime

    from marketpulse_common.connection import create_redis
    from marketpulse_common.events import Ticker
    from marketpulse_common.keys import Channel, ChannelKind
    from marketpulse_common.publisher import Publisher

    async def publish() -> None:
        redis = create_redis(url)
        ticker = Ticker(
            asset=ASSET,
            vs_currency="usd",
            price=97_123.45,
            change_24h_pct=1.25,
            volume_24h=3.1e10,
            market_cap=1.9e12,
            last_updated=datetime.now(UTC),
        )
        await Publisher(redis, source="simulated").publish(
            Channel(ChannelKind.TICKER, ASSET), ticker
        )
        await redis.aclose()

    asyncio.run(publish())


def ensure_wrk(install: bool) -> bool:
    if shutil.which("wrk"):
        return True
    if install and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        if shutil.which("wrk"):
            return True
    print(
        "wrk not found: install it (Debian/Ubuntu: `sudo apt-get install -y wrk`, or run this "
        "script as root with --install-tools); falling back to the Python generator",
        file=sys.stderr,
    )
    return False


@dataclass
class Results:
    gateway_rps: list[float]
    bare_rps: list[float]
    gateway_fixed: list[Run]
    bare_fixed: list[Run]
    generator: str
    hot_fraction: float
    cpu_us: dict[str, float]  # server CPU time per request at the fixed load
    cpu_busy_us: dict[str, float]  # …and during the closed-loop (saturating) runs
    cores: str
    load: tuple[float, float]  # 1-minute load average before and after

    @property
    def ratio(self) -> float:
        pairs = zip(self.gateway_rps, self.bare_rps, strict=True)
        return statistics.median(g / b for g, b in pairs)

    @staticmethod
    def median_ms(runs: list[Run], q: float) -> float:
        return statistics.median(run.percentile_ms(q) for run in runs)


def measure(quick: bool, use_wrk: bool, tmp: Path) -> Results:
    from marketpulse_dev.embedded_redis import RedisServer

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs at least two cores: one for the server, one for the load")
    server_core, load_cores = cpus[-1], cpus[:-1]
    os.sched_setaffinity(0, set(load_cores))  # this process generates load; children inherit
    with RedisServer(tmp / "redis", appendonly=False) as redis:
        seed_redis(redis.url)
        env = {
            "MP_REDIS_URL": redis.url,
            "MP_ASSETS": ASSET,
            "MP_LOG_LEVEL": "warning",
            "MP_LOG_FORMAT": "json",
            # Limiter on, as in production, at a limit this load never reaches.
            "MP_RATE_LIMIT_PER_MINUTE": "60000000",
            "MP_RATE_LIMIT_BURST": "10000000",
        }
        with server("gateway", server_core, env) as gw:
            _, body, headers = get(gw)
            kept = [(k.lower(), v) for k, v in headers if k.lower() in HEADERS_KEPT]
            body_file = tmp / "body.json"
            body_file.write_bytes(orjson.dumps({"body": body.decode(), "headers": kept}))
            with server("bare", server_core, {}, body_file) as bare:
                cores = f"server on core {server_core}, load on {','.join(map(str, load_cores))}"
                return Rounds(gw, bare, use_wrk, load_cores, quick).run(cores)


class Rounds:
    """Alternate the two servers in short paired runs (ABBA), so drift on the machine hits
    both alike; the throughput ratio is the median of the per-pair ratios."""

    def __init__(
        self, gw: int, bare: int, use_wrk: bool, load_cores: list[int], quick: bool
    ) -> None:
        self.gw, self.bare = gw, bare
        self.use_wrk, self.load_cores = use_wrk, load_cores
        self.pairs, self.seconds = (3, 2.0) if quick else (20, 2.0)
        self.fixed_rounds, self.fixed_s = (1, 4.0) if quick else (3, 10.0)

    def closed(self, port: int) -> tuple[float, int]:
        if self.use_wrk:
            return wrk_rate(port, self.seconds, self.load_cores)
        run = closed_loop(port, self.seconds)
        return run.rate, len(run.latencies_s)

    def run(self, cores: str) -> Results:
        load_before = os.getloadavg()[0]
        for port in (self.gw, self.bare):  # warm both: first requests fill caches and pools
            closed_loop(port, 1.0, 8)
        gateway_rps, bare_rps, gateway_fixed, bare_fixed = [], [], [], []
        hits_before, served = l1_hits(self.gw), 0
        busy_cpu = {self.gw: 0.0, self.bare: 0.0}
        busy_total = {self.gw: 0, self.bare: 0}
        for pair in range(self.pairs):
            order = (self.bare, self.gw) if pair % 2 == 0 else (self.gw, self.bare)
            for port in order:
                before = cpu_seconds(port)
                rate, total = self.closed(port)
                busy_cpu[port] += cpu_seconds(port) - before
                busy_total[port] += total
                (gateway_rps if port == self.gw else bare_rps).append(rate)
        served = busy_total[self.gw]
        cpu_busy_us = {
            "gateway": busy_cpu[self.gw] / busy_total[self.gw] * 1e6,
            "bare": busy_cpu[self.bare] / busy_total[self.bare] * 1e6,
        }
        cpu = {"gateway": 0.0, "bare": 0.0}
        for _ in range(self.fixed_rounds):
            for name, port, runs in (
                ("bare", self.bare, bare_fixed),
                ("gateway", self.gw, gateway_fixed),
            ):
                before = cpu_seconds(port)
                runs.append(fixed_rate(port, self.fixed_s, OFFERED_RATE))
                cpu[name] += cpu_seconds(port) - before
            served += len(gateway_fixed[-1].latencies_s)
        answered = {
            "gateway": sum(len(r.latencies_s) for r in gateway_fixed),
            "bare": sum(len(r.latencies_s) for r in bare_fixed),
        }
        cpu_us = {name: cpu[name] / answered[name] * 1e6 for name in cpu}
        hot = (l1_hits(self.gw) - hits_before) / served if served else 0.0
        generator = "wrk -t1 -c64" if self.use_wrk else "the Python generator (64 connections)"
        return Results(
            gateway_rps,
            bare_rps,
            gateway_fixed,
            bare_fixed,
            generator,
            hot,
            cpu_us,
            cpu_busy_us,
            cores,
            (load_before, os.getloadavg()[0]),
        )


def report(results: Results, quick: bool) -> str:
    r = results
    p99 = r.median_ms(r.gateway_fixed, 0.99)
    ratio_ok, p99_ok = r.ratio >= TARGET_RATIO, p99 <= TARGET_P99_MS
    statuses: dict[int, int] = {}
    for run in r.gateway_fixed + r.bare_fixed:
        for status, count in run.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    non_200 = {s: n for s, n in statuses.items() if s != 200}
    med = statistics.median
    lines = [
        "## HTTP: cached ticker, gateway vs bare ASGI app",
        "",
        f"`GET {PATH}` under uvicorn (uvloop, httptools, 1 worker, access log off); "
        f"{r.cores}. Throughput by {r.generator}; latency at a constant {OFFERED_RATE:,} req/s "
        f"(16 connections), measured from each request's scheduled send time. Throughput: "
        f"medians of {len(r.gateway_rps)} paired runs; latency: medians of "
        f"{len(r.gateway_fixed)} rounds. Load average {r.load[0]:.2f} → "
        f"{r.load[1]:.2f} (other work on the machine shows up in the tail latencies)."
        + (" **Quick run: short and noisy.**" if quick else ""),
        "",
        "| | gateway | bare ASGI | ratio | target |",
        "|---|---:|---:|---:|---|",
        f"| throughput (req/s) | {med(r.gateway_rps):,.0f} | {med(r.bare_rps):,.0f} "
        f"| **{r.ratio:.2f}×** | ≥ {TARGET_RATIO:.2f}× {'✅' if ratio_ok else '❌'} |",
    ]
    for label, q in (("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)):
        target = f"≤ {TARGET_P99_MS:g} ms {'✅' if p99_ok else '❌'}" if label == "p99" else ""
        lines.append(
            f"| {label} at {OFFERED_RATE:,} req/s (ms) | {r.median_ms(r.gateway_fixed, q):.3f} "
            f"| {r.median_ms(r.bare_fixed, q):.3f} | | {target} |"
        )
    for label, cpu in (("at full load", r.cpu_busy_us), (f"at {OFFERED_RATE:,} req/s", r.cpu_us)):
        lines.append(
            f"| server CPU per request {label} (µs) | {cpu['gateway']:.1f} | {cpu['bare']:.1f} "
            f"| {cpu['bare'] / cpu['gateway']:.2f}× | |"
        )
    pair_ratios = [g / b for g, b in zip(r.gateway_rps, r.bare_rps, strict=True)]
    rounds = ", ".join(f"{run.percentile_ms(0.99):.2f}" for run in r.gateway_fixed)
    lines += [
        "",
        f"Throughput ratio per pair: {', '.join(f'{x:.2f}' for x in pair_ratios)}.",
        f"Gateway p99 per round (ms): {rounds}. Gateway responses served by the in-process "
        f"cache (L1): {r.hot_fraction:.1%}. Non-200 responses: {non_200 or 'none'}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--install-tools", action="store_true", help="apt-get install wrk (root)")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run servers, Redis and load generators at this niceness (negative needs root): "
        "on a shared machine it keeps other work from dominating the tail latencies",
    )
    parser.add_argument("--serve", choices=["gateway", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--body-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.body_file)
        return
    # A stopped benchmark still stops its servers and Redis (the context managers' exits).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # children inherit it
    use_wrk = ensure_wrk(args.install_tools)
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        results = measure(args.quick, use_wrk, Path(tmp))
    text = report(results, args.quick)
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
