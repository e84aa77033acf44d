"""The Python client applying stream deltas, against a plain `json.loads` loop as baseline.

Frames are what the gateway sends for a ticker and an indicator set moving on (encoded with
the gateway's own frame models and delta diff), one chain per channel, interleaved. Measured:

1. `json.loads` of every frame: the least any client must do (the baseline);
2. the client's apply path, `ChannelBook.receive`: parse and validate the frame, check its
   epoch, seq and prev_seq, merge it into the held value and build the update;
3. end to end over loopback: a `websockets` server sends the same frames and a
   `MarketPulse` subscription callback counts them (socket, framing, the reader loop,
   listener dispatch; server and client share one event loop, so this is a lower bound).

Target (issue 15): the client applies at least 20,000 deltas/s.

    .venv/bin/python bench/bench_client_py.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from cli import bench_parser, publish
from marketpulse_client import MarketPulse, Update
from marketpulse_client.book import ChannelBook
from marketpulse_gateway.stream.delta import changed_fields
from marketpulse_gateway.stream.protocol import Delta, SnapshotFrame, Subscribed, encode_frame

TARGET_DELTAS_PER_S = 20_000
TICKER, INDICATORS = "ticker:benchcoin", "indicators:benchcoin:5m"


def ticker_values(n: int, rng: random.Random) -> list[dict[str, Any]]:
    start, price, out = datetime(2025, 1, 1, tzinfo=UTC), 64_000.0, []
    for i in range(n):
        price *= 1 + rng.gauss(0, 0.0005)
        out.append({
            "asset": "benchcoin", "vs_currency": "usd", "price": round(price, 2),
            "change_24h_pct": round(rng.gauss(0, 2), 3), "high_24h": 66_000.0,
            "low_24h": 62_000.0, "volume_24h": 1.2e10 + i, "market_cap": 1.3e12,
            "last_updated": (start + timedelta(seconds=i)).isoformat(),
        })  # fmt: skip
    return out


def indicator_values(n: int, rng: random.Random) -> list[dict[str, Any]]:
    names = ["ema_12", "ema_26", "ema_50", "rsi_14", "macd", "macd_signal", "macd_hist",
             "bb_upper", "bb_middle", "bb_lower", "atr_14", "volatility_20"]  # fmt: skip
    start, out = 1_735_689_600, []
    for i in range(n):
        out.append({
            "asset": "benchcoin", "tf": "5m",
            "window": {"tf": "5m", "first_open": start + i * 300, "last_open": start + (i + 200)
                       * 300, "count": 200, "input_hash": f"{i:016x}"},
            "params": {"rsi_period": 14.0}, "lookback": {"rsi_14": 15},
            "values": {name: rng.uniform(0, 100) for name in names},
            "computed_at": datetime.fromtimestamp(start + i * 300, UTC).isoformat(),
        })  # fmt: skip
    return out


def chain(channel: str, values: list[dict[str, Any]], first_ms: int) -> list[str]:
    """The snapshot of values[0], then a delta per later value, as the gateway encodes them."""
    seqs = [f"{first_ms + i}-0" for i in range(len(values))]
    frames = [encode_frame(SnapshotFrame(channel=channel, epoch="e1", seq=seqs[0],
                                         data=values[0]))]  # fmt: skip
    for i in range(1, len(values)):
        delta = Delta(channel=channel, epoch="e1", seq=seqs[i], prev_seq=seqs[i - 1],
                      data=changed_fields(values[i - 1], values[i]))  # fmt: skip
        frames.append(encode_frame(delta))
    return frames


def build_frames(n: int) -> tuple[list[str], list[str]]:
    """(the two snapshots, the interleaved deltas)."""
    rng = random.Random(7)
    ticks = chain(TICKER, ticker_values(n // 2 + 1, rng), 1_000_000)
    inds = chain(INDICATORS, indicator_values(n // 2 + 1, rng), 2_000_000)
    deltas = [f for pair in zip(ticks[1:], inds[1:], strict=True) for f in pair]
    return [ticks[0], inds[0]], deltas


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings)


def run_json(deltas: list[str]) -> None:
    loads = json.loads
    for text in deltas:
        loads(text)


def run_book(snapshots: list[str], deltas: list[str]) -> None:
    book = ChannelBook()
    for channel in (TICKER, INDICATORS):
        book.add(channel)
    book.take_ops()
    for frame in snapshots:
        channel = json.loads(frame)["channel"]
        book.receive(encode_frame(Subscribed(channel=channel, epoch="e1", recovered=False)))
        book.receive(frame)
    for text in deltas:
        book.receive(text)
    assert book.diagnostics.deltas == len(deltas), book.diagnostics


async def run_socket(snapshots: list[str], deltas: list[str]) -> float:
    """Seconds from the first delta sent to the last one applied by a subscription."""
    done = asyncio.Event()
    applied = 0
    started = 0.0

    async def gateway(ws: ServerConnection) -> None:
        nonlocal started
        json.loads(await ws.recv())
        for frame in snapshots:
            channel = json.loads(frame)["channel"]
            await ws.send(encode_frame(Subscribed(channel=channel, epoch="e1", recovered=False)))
            await ws.send(frame)
        started = time.perf_counter()
        for text in deltas:
            await ws.send(text)
        await ws.wait_closed()

    def count(update: Update) -> None:
        nonlocal applied
        if update.kind == "delta":
            applied += 1
            if applied == len(deltas):
                done.set()

    async with serve(gateway, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with MarketPulse(f"http://127.0.0.1:{port}") as mp:
            mp.subscribe(TICKER, count)
            mp.subscribe(INDICATORS, count)
            await asyncio.wait_for(done.wait(), 300)
            return time.perf_counter() - started


def measure(quick: bool) -> list[tuple[str, int, float]]:
    n = 20_000 if quick else 100_000
    repeats = 2 if quick else 5
    snapshots, deltas = build_frames(n)
    socket_n = 10_000 if quick else 50_000
    return [
        ("plain `json.loads` of each frame (baseline)", len(deltas),
         best_seconds(lambda: run_json(deltas), repeats)),
        ("client apply path (`ChannelBook.receive`)", len(deltas),
         best_seconds(lambda: run_book(snapshots, deltas), repeats)),
        ("end to end over loopback (`MarketPulse.subscribe`)", socket_n,
         asyncio.run(run_socket(snapshots, deltas[:socket_n]))),
    ]  # fmt: skip


def table(results: list[tuple[str, int, float]], quick: bool) -> tuple[str, bool]:
    baseline = results[0][1] / results[0][2]
    apply_rate = results[1][1] / results[1][2]
    met = apply_rate >= TARGET_DELTAS_PER_S
    lines = [
        "## Python client: deltas applied per second" + (" (quick run)" if quick else ""),
        "",
        "| path | deltas | seconds | deltas/s | vs json.loads |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, count, seconds in results:
        rate = count / seconds
        lines.append(
            f"| {label} | {count:,} | {seconds:.3f} | {rate:,.0f} | {rate / baseline:.2f}x |"
        )
    verdict = "met" if met else "**missed**"
    lines += [
        "",
        f"Target ≥ {TARGET_DELTAS_PER_S:,} deltas/s on the apply path: {verdict} "
        f"({apply_rate:,.0f}/s). Frames: ticker and 12-indicator deltas, interleaved, as the "
        "gateway encodes them; the apply path validates each frame (pydantic), checks its "
        "position and merges it.",
        "",
    ]
    return "\n".join(lines), met


def main() -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args()
    text, met = table(measure(args.quick), args.quick)
    publish(text, args.markdown)
    if not met:  # reported, not failed: a loaded machine says nothing about the code
        print(f"target missed: {TARGET_DELTAS_PER_S:,} deltas/s")


if __name__ == "__main__":
    main()
