"""WebSocket fan-out: the gateway vs the `websockets` library's own `broadcast()` server.

Two servers, each with its own clients and its own channel stream in one private Redis:

- gateway: the real app as `python -m marketpulse_gateway` serves it (uvicorn, the stream's
  direct socket; rate limiting off so 1,000 handshakes from one address are admitted), its
  clients subscribed to `ticker:benchcoin`;
- reference: a minimal `websockets` server that XREADs `ticker:refcoin`, encodes each entry
  once as a delta frame and calls `websockets.broadcast()` (compression off, as the gateway).

Events are Tickers published through the real Publisher; `last_updated` is stamped just
before publishing, so ingest-to-client latency is measured at the client. Both servers run
side by side pinned to one core, the load generator (every client on one uvloop with a
minimal frame parser, the publisher, Redis) to the other; only one server has work at a time,
and their rounds alternate so that whatever else the machine does falls on both alike.

1. latency: 20 events/s to every client; every event must reach every client, in order;
   p50 and p99 per round; the least disturbed round, the median and the worst reported;
2. sustained deliveries/s: a closed loop keeping a fixed number of events in flight, so the
   server is saturated without a backlog building up; best round;
3. the gateway only: pairs of rounds without and with one more client that subscribes and
   never reads (dropped with 4008 mid-round); the others' p99 with over without, per pair.

    .venv/bin/python bench/bench_ws.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import socket
import statistics
import struct
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import uvloop

from cli import bench_parser, publish
from marketpulse_common.connection import create_redis
from marketpulse_common.events import CandleWindow, Indicators, Ticker
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Publisher
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer, free_port

SERVER_CORE, CLIENT_CORE = 0, 1
PRIORITY = -10  # nice value, when permitted (see isolate)
ROLES = ("reference", "gateway")
ASSETS = {"gateway": "benchcoin", "reference": "refcoin"}
# Only the stalled client subscribes to it: ~90 KB values overflow its backlog in seconds.
HEAVY = Channel(ChannelKind.INDICATORS, ASSETS["gateway"], Timeframe.H1)
RATE = 20.0  # events/s in the latency rounds
IN_FLIGHT = 32  # events in flight in the throughput rounds
TARGET_P50_MS, TARGET_P99_MS, TARGET_RATIO, TARGET_STALL = 10.0, 25.0, 0.75, 1.10


def ticker_channel(role: str) -> Channel:
    return Channel(ChannelKind.TICKER, ASSETS[role])


def heavy_value(offset: float) -> Indicators:
    window = CandleWindow(tf=Timeframe.H1, first_open=0, last_open=3600, count=2, input_hash="b")
    values: dict[str, float | None] = {f"v{i}": offset + i / 7 for i in range(3000)}
    return Indicators(asset=HEAVY.asset, tf=Timeframe.H1, window=window, params={},
                      lookback={}, values=values, computed_at=datetime.now(UTC))  # fmt: skip


HEAVY_VALUES = (heavy_value(0.0), heavy_value(0.5))


# --- servers (each in its own process, pinned to SERVER_CORE) ---------------------------


def serve_gateway(port: int, redis_url: str) -> None:
    import uvicorn

    from marketpulse_common.settings import load_settings
    from marketpulse_gateway.app import create_app
    from marketpulse_gateway.stream.server import ws_server_options

    settings = load_settings(
        redis_url=redis_url,
        assets=[ASSETS["gateway"]],
        timeframes=["1h"],
        rate_limit_per_minute=0,
    )
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        **ws_server_options(settings),
    )


def serve_reference(port: int, redis_url: str) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    channel = ticker_channel("reference")
    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async def fan_out() -> None:
        redis = create_redis(redis_url, client_name="bench-reference")
        newest = await redis.xrevrange(channel.stream_key, count=1)
        last = newest[0][0] if newest else "0-0"
        while True:
            reply = await redis.xread({channel.stream_key: last}, block=2000, count=500)
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    last = entry_id
                    frame = {"type": "delta", "channel": channel.name, "epoch": fields["epoch"],
                             "seq": entry_id, "prev_seq": fields["prev"] or None,
                             "data": orjson.loads(fields["d"])}  # fmt: skip
                    broadcast(clients, orjson.dumps(frame), text=True)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, compression=None):
            await fan_out()

    uvloop.run(main())


# --- the load generator (this process, pinned to CLIENT_CORE) ---------------------------


@dataclass
class Tally:
    """What one server's clients received: per-event counts, latencies, order violations."""

    clients: int
    received: list[int] = field(default_factory=lambda: [0] * 200_000)
    latencies: list[float] = field(default_factory=list)
    measure_from: int = 1 << 62
    disorder: int = 0
    waiters: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    _parsed: dict[bytes, tuple[int, float]] = field(default_factory=dict)

    def event(self, payload: bytes) -> tuple[int, float]:
        """(event index, publish time) of a delta: parsed once, every client has the same bytes."""
        known = self._parsed.get(payload)
        if known is None:
            data = orjson.loads(payload)["data"]
            stamp = datetime.fromisoformat(data["last_updated"]).timestamp()
            known = self._parsed[payload] = (round(data["price"]) - 1000, stamp)
            if len(self._parsed) > 4096:
                self._parsed.clear()
        return known

    def complete(self, index: int) -> bool:
        return self.received[index] >= self.clients

    def count(self, index: int) -> None:
        self.received[index] += 1
        if self.received[index] == self.clients and index in self.waiters:
            self.waiters.pop(index).set_result(None)


class BenchClient(asyncio.Protocol):
    """A minimal WebSocket client: handshake, one subscribe, then count and time deltas."""

    def __init__(self, tally: Tally, port: int, channel: str) -> None:
        self.tally, self.port, self.channel = tally, port, channel
        self.buffer = bytearray()
        self.live = False
        self.upgraded = asyncio.get_running_loop().create_future()
        self.last_index = -1
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is not a subclass)
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.buffer:
            data = bytes(self.buffer) + data
            self.buffer.clear()
        if not self.live:
            head, sep, data = data.partition(b"\r\n\r\n")
            if not sep:
                self.buffer += head
                return
            self._upgraded(head)
        rest = self._frames(data, now)
        if rest:
            self.buffer += rest

    def _upgraded(self, head: bytes) -> None:
        if not head.startswith(b"HTTP/1.1 101"):
            self.upgraded.set_exception(RuntimeError(head[:40].decode()))
            return
        self.live = True
        self.upgraded.set_result(None)
        self.send_frame(0x1, f'{{"op":"subscribe","channels":["{self.channel}"]}}'.encode())

    def _frames(self, data: bytes, now: float) -> bytes:
        """Handle the complete frames in `data`; returns an incomplete tail."""
        pos, end, tally = 0, len(data), self.tally
        while end - pos >= 2:
            length, start = data[pos + 1] & 0x7F, pos + 2
            if length == 126:
                length, start = (data[pos + 2] << 8) | data[pos + 3], pos + 4
            elif length == 127:
                (length,) = struct.unpack_from("!Q", data, pos + 2)
                start = pos + 10
            if end < start + length:
                break
            if data[pos] == 0x81 and data.startswith(b'{"type":"delta"', start):
                index, stamp = tally.event(data[start : start + length])
                if index != self.last_index + 1 and self.last_index >= 0:
                    tally.disorder += 1
                self.last_index = index
                tally.count(index)
                if index >= tally.measure_from:
                    tally.latencies.append(now - stamp)
            elif data[pos] & 0x0F == 0x9:  # a keepalive ping: pong with the same payload
                self.send_frame(0xA, data[start : start + length])
            pos = start + length
        return data[pos:]

    def send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        assert len(payload) < 126 and self.transport is not None
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked)


class Load:
    """One server's clients, and the publishing of its channel."""

    def __init__(self, role: str, publisher: Publisher, clients: int) -> None:
        self.role, self.publisher = role, publisher
        self.channel = ticker_channel(role)
        self.tally = Tally(clients)
        self.clients: list[BenchClient] = []
        self.next_index = 0
        self._heavy = 0

    async def connect(self, port: int, *more: int) -> None:
        """Connect the clients (dealt round-robin over `port` and `more` servers) and warm up."""
        loop = asyncio.get_running_loop()
        ports = (port, *more)
        for n in range(self.tally.clients):
            to = ports[n % len(ports)]
            _, client = await loop.create_connection(
                lambda to=to: BenchClient(self.tally, to, self.channel.name), "127.0.0.1", to
            )
            await asyncio.wait_for(client.upgraded, 10)
            self.clients.append(client)
        # Warm up until an event reaches every client: all of them are on the live path.
        for _ in range(30):
            try:
                await self.wait_complete(await self.publish_one(), within_s=1.0)
                return
            except TimeoutError:
                continue
        raise TimeoutError(f"{self.role}: the clients never all received an event")

    async def publish_one(self) -> int:
        index, self.next_index = self.next_index, self.next_index + 1
        ticker = Ticker(asset=self.channel.asset, vs_currency="usd", price=1000.0 + index,
                        volume_24h=5e9, last_updated=datetime.now(UTC))  # fmt: skip
        await self.publisher.publish(self.channel, ticker)
        return index

    async def publish_heavy(self) -> None:
        # Two prebuilt values taking turns: every publish changes every field, and the load
        # generator's core does not spend its time building 3,000-field models.
        self._heavy += 1
        await self.publisher.publish(HEAVY, HEAVY_VALUES[self._heavy % 2])

    async def wait_complete(self, index: int, within_s: float = 30.0) -> None:
        if self.tally.complete(index):
            return
        done = self.tally.waiters.setdefault(index, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(done), within_s)
        except TimeoutError:
            got = self.tally.received[index]
            raise TimeoutError(
                f"{self.role}: event {index} reached {got} of {self.tally.clients} clients"
            ) from None

    async def paced(self, seconds: float, *, heavy: bool = False) -> list[float]:
        """Publish at RATE for `seconds`; the latencies of those events (every one delivered,
        in order, or this raises)."""
        self.tally.latencies = []
        first = self.tally.measure_from = self.next_index
        started = time.monotonic()
        for n in range(int(seconds * RATE)):
            await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
            await self.publish_one()
            if heavy:
                await self.publish_heavy()
        await self.wait_complete(self.next_index - 1)
        self.tally.measure_from = 1 << 62
        expected = (self.next_index - first) * len(self.clients)
        if len(self.tally.latencies) != expected or self.tally.disorder:
            raise AssertionError(f"{self.role}: lost or reordered deliveries")
        return self.tally.latencies

    async def closed_loop(self, events: int) -> float:
        """Deliveries/s with IN_FLIGHT events outstanding at any time."""
        first = self.next_index
        started = time.monotonic()
        for n in range(events):
            if n >= IN_FLIGHT:
                await self.wait_complete(first + n - IN_FLIGHT)
            await self.publish_one()
        await self.wait_complete(self.next_index - 1)
        return events * len(self.clients) / (time.monotonic() - started)

    def close(self) -> None:
        for client in self.clients:
            if client.transport is not None:
                client.transport.close()


@contextmanager
def stalled_client(port: int) -> Iterator[socket.socket]:
    """A client that subscribes to the ticker and HEAVY, then never reads (small buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
        f"Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:  # like any client, wait for the 101 first
        response += sock.recv(4096)
    names = f'"{ticker_channel("gateway").name}","{HEAVY.name}"'
    op, mask = f'{{"op":"subscribe","channels":[{names}]}}'.encode(), os.urandom(4)
    sock.sendall(
        bytes((0x81, 0x80 | len(op))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(op))
    )
    try:
        yield sock
    finally:
        sock.close()


@asynccontextmanager
async def server(role: str, redis_url: str) -> AsyncIterator[tuple[int, int]]:
    """Run a server role in its own process on SERVER_CORE; yields (port, pid)."""
    port = free_port()
    args = ["--role", role, "--port", str(port), "--redis", redis_url]
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, *args)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{role} server did not start") from None
                await asyncio.sleep(0.1)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slow_drops(port: int) -> int:
    """How many clients the gateway closed as slow, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith('marketpulse_gateway_ws_clients_dropped_total{reason="slow"}'):
            return int(float(line.split()[-1]))
    return 0


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[round(q * 1000) - 1] * 1000


def progress(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    clients: int  # per server
    rounds: int
    round_s: float  # one latency round; the stalled comparison's rounds too
    events: int  # per throughput round


@dataclass
class Side:
    """One server under test: its clients, and what was measured."""

    role: str
    load: Load
    port: int
    pid: int
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    quiet_p99s: list[float] = field(default_factory=list)
    stalled_p99s: list[float] = field(default_factory=list)
    dropped: int = 0

    async def latency_round(self, seconds: float) -> None:
        latencies = await self.load.paced(seconds)
        self.p50s.append(percentile(latencies, 0.50))
        self.p99s.append(percentile(latencies, 0.99))
        progress(f"  {self.role}: p50 {self.p50s[-1]:.1f} ms, p99 {self.p99s[-1]:.1f} ms")

    async def throughput_round(self, events: int) -> None:
        before = cpu_seconds(self.pid)
        self.rates.append(await self.load.closed_loop(events))
        spent = cpu_seconds(self.pid) - before
        self.cpu_us.append(spent / (events * len(self.load.clients)) * 1e6)
        progress(f"  {self.role}: {self.rates[-1]:,.0f}/s, {self.cpu_us[-1]:.1f} µs/delivery")

    async def stalled_round(self, seconds: float) -> None:
        """A round without, then one with, a stalled client (dropped within the round)."""
        self.quiet_p99s.append(percentile(await self.load.paced(seconds, heavy=True), 0.99))
        with stalled_client(self.port):
            stalled = await self.load.paced(seconds, heavy=True)
        self.stalled_p99s.append(percentile(stalled, 0.99))
        progress(f"  p99 {self.quiet_p99s[-1]:.1f} ms without, {self.stalled_p99s[-1]:.1f} with")


async def measure(plan: Plan) -> list[Side]:
    async with AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        redis_server = stack.enter_context(RedisServer(Path(tmp), appendonly=False))
        redis = create_redis(redis_server.url, client_name="bench-publisher")
        stack.push_async_callback(redis.aclose)
        publisher = Publisher(redis, source="bench")
        sides = []
        for role in ROLES:
            port, pid = await stack.enter_async_context(server(role, redis_server.url))
            load = Load(role, publisher, plan.clients)
            stack.callback(load.close)
            progress(f"{role}: connecting {plan.clients} clients")
            await load.connect(port)
            sides.append(Side(role, load, port, pid))
        progress(f"latency: {plan.rounds} rounds of {plan.round_s:.0f} s each at {RATE:.0f}/s")
        for _ in range(plan.rounds):
            for side in sides:
                await side.latency_round(plan.round_s)
        progress(f"throughput: {plan.rounds} rounds of {plan.events} events each")
        for _ in range(plan.rounds):
            for side in sides:
                await side.throughput_round(plan.events)
        gateway = sides[ROLES.index("gateway")]
        progress("gateway: rounds without and with a stalled client")
        for _ in range(plan.rounds):
            await gateway.stalled_round(plan.round_s)
        gateway.dropped = slow_drops(gateway.port)
        return sides


def best_round(side: Side) -> tuple[float, float]:
    """(p50, p99) of the round with the lowest p99: the least disturbed one."""
    return min(zip(side.p50s, side.p99s, strict=True), key=lambda pair: pair[1])


def table(sides: list[Side], plan: Plan) -> str:
    reference, gateway = sides
    median = statistics.median
    ratio = max(gateway.rates) / max(reference.rates)
    pairs = zip(gateway.stalled_p99s, gateway.quiet_p99s, strict=True)
    stall = median(with_ / without for with_, without in pairs)
    quick = " (quick run)" if plan.clients < 1000 else ""
    lines = [
        f"## WebSocket fan-out: {plan.clients:,} clients per server{quick}",
        "",
        f"Latency (publish → client receipt): {RATE:.0f} events/s to every client, "
        f"{plan.rounds} rounds of {plan.round_s:.0f} s per server, the two servers alternating; "
        "every event reached every client, in order. Reported: the least disturbed round (lowest "
        "p99; as for every benchmark here, the least disturbed run is the estimate of the code's "
        "cost), the median round's p99 and the worst. Throughput: a closed loop with "
        f"{IN_FLIGHT} events in flight, best of {plan.rounds} rounds of {plan.events} events; "
        "server CPU is user + system time from /proc (the kernel's softirq work for loopback "
        "is not included).",
        "",
        "| server | p50 ms | p99 ms | median p99 ms | worst p99 ms | deliveries/s "
        "| server CPU µs/delivery |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for side in sides:
        label = "gateway (/v1/stream)" if side is gateway else "websockets broadcast()"
        p50, p99 = best_round(side)
        lines.append(
            f"| {label} | {p50:.2f} | {p99:.2f} | {median(side.p99s):.2f} | "
            f"{max(side.p99s):.2f} | {max(side.rates):,.0f} | {min(side.cpu_us):.1f} |"
        )
    p50, p99 = best_round(gateway)
    verdict = [
        ("gateway p50 ≤ 10 ms", p50 <= TARGET_P50_MS, f"{p50:.2f} ms"),
        ("gateway p99 ≤ 25 ms", p99 <= TARGET_P99_MS, f"{p99:.2f} ms"),
        ("deliveries/s ≥ 0.75× broadcast()", ratio >= TARGET_RATIO, f"{ratio:.2f}×"),
        (
            "one stalled client moves the others' p99 ≤ 10%",
            stall <= TARGET_STALL,
            f"{stall:.2f}× (median over pairs of rounds); {gateway.dropped} of {plan.rounds} "
            "stalled clients closed with 4008",
        ),
    ]
    lines += ["", "| target | met | measured |", "|---|---|---|"]
    lines += [f"| {name} | {'yes' if ok else 'NO'} | {value} |" for name, ok, value in verdict]
    lines += [
        "",
        f"Stalled client: {plan.rounds} pairs of {plan.round_s:.0f} s rounds, without and "
        "with a client that subscribes to the ticker and to a channel of ~90 KB values "
        "(published in both rounds of a pair) and never reads; the gateway closes it when its "
        "backlog overflows. Per pair, the others' p99 with it over their p99 without it.",
    ]
    return "\n".join(lines) + "\n"


def isolate(core: int) -> bool:
    """Pin this process (and what it starts) to `core` and, where permitted, raise its
    priority: on a shared machine other processes would otherwise land on the benchmark's
    cores and their time slices would show up as latency. True when the priority was raised."""
    os.sched_setaffinity(0, {core})
    try:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
    except PermissionError:
        return False
    return True


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role is not None:
        isolate(SERVER_CORE)
        (serve_gateway if args.role == "gateway" else serve_reference)(args.port, args.redis)
        return
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two cores: one for the servers, one for the clients")
    raised = isolate(CLIENT_CORE)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    plan = Plan(200, 2, 3.0, 60) if args.quick else Plan(1000, 7, 5.0, 200)
    load_before = os.getloadavg()[0]
    text = table(uvloop.run(measure(plan)), plan)
    text += (
        f"\nMachine load average {load_before:.1f} at the start; benchmark processes "
        f"{'at nice ' + str(PRIORITY) if raised else 'at normal priority'}.\n"
    )
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
