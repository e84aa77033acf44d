"""Load that watches while faults happen: REST readers and resuming WebSocket clients.

`RestLoad` reads REST URLs in a loop and counts every status, `meta.stale` flag and
transport error. `WsReader` is a WebSocket client written from the protocol (DESIGN §7):
it subscribes, records every frame, resyncs a channel (a fresh snapshot) on a delta of
another epoch or one that does not follow its seq, and when its connection dies it
reconnects — to the next URL in its list, i.e. another gateway replica — resuming each
channel from the last `{epoch, seq}` it holds. `delivery_verdict` then compares what it
received with the channel's history in Redis (what was produced).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from tests.faults.verdict import Verdict, compare

# Pace of each loop: enough to watch every second of a fault, not enough to starve the
# services of the two shared cores.
REST_PAUSE_S = 0.05
RECONNECT_PAUSE_S = 0.1


def seq_key(seq: str) -> tuple[int, int]:
    ms, _, n = seq.partition("-")
    return int(ms), int(n or 0)


@dataclass
class RestLoad:
    urls: list[str]
    statuses: Counter[int] = field(default_factory=Counter)
    stale: Counter[bool] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    # (monotonic time the answer came, status, meta.stale) for every answer
    timeline: list[tuple[float, int, bool | None]] = field(default_factory=list)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                for url in self.urls:
                    await self._read(http, url)
                await asyncio.sleep(REST_PAUSE_S)

    async def _read(self, http: httpx.AsyncClient, url: str) -> None:
        try:
            response = await http.get(url)
        except httpx.HTTPError as e:
            self.errors[type(e).__name__] += 1
            return
        self.statuses[response.status_code] += 1
        stale = None
        if response.status_code >= 500:
            self.server_errors.append(f"{url}: {response.status_code} {response.text[:300]}")
        elif response.status_code == 200:
            stale = bool(response.json()["meta"]["stale"])
            self.stale[stale] += 1
        self.timeline.append((time.monotonic(), response.status_code, stale))

    def between(self, start: float, end: float) -> list[tuple[int, bool | None]]:
        return [(status, stale) for t, status, stale in self.timeline if start <= t <= end]

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def count_5xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@dataclass
class WsReader:
    """One client; `frames` holds every frame it received, in order."""

    urls: list[str]
    channels: list[str]
    frames: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, tuple[str, str]] = field(default_factory=dict)
    connections: list[str] = field(default_factory=list)
    # Cleared by a test to hold reconnections back (so the client surely misses updates).
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    # (channel, "epoch" | "gap") each time the client had to take a fresh snapshot
    resyncs: list[tuple[str, str]] = field(default_factory=list)
    resyncing: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.gate.set()

    async def run(self) -> None:
        attempt = 0
        while True:
            await self.gate.wait()
            url = self.urls[attempt % len(self.urls)]
            with contextlib.suppress(OSError, TimeoutError, WebSocketException, InvalidHandshake):
                async with connect(url, open_timeout=5, max_size=None) as ws:
                    self.connections.append(url)
                    self.resyncing.clear()
                    await ws.send(orjson.dumps(self._subscribe()).decode())
                    async for raw in ws:
                        again = self._receive(orjson.loads(raw))
                        if again is not None:
                            await ws.send(orjson.dumps(again).decode())
            attempt += 1
            await asyncio.sleep(RECONNECT_PAUSE_S)

    def _subscribe(self) -> dict[str, Any]:
        op: dict[str, Any] = {"op": "subscribe", "channels": self.channels}
        resume = {ch: {"epoch": e, "seq": s} for ch, (e, s) in self.positions.items()}
        if resume:
            op["resume"] = resume
        return op

    def _receive(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        """Record the frame; returns the op to send when the channel must be resynced."""
        channel, kind = frame.get("channel"), frame.get("type")
        if kind == "snapshot":
            self.resyncing.discard(str(channel))
        elif kind == "delta" and channel in self.resyncing:
            frame["ignored"] = True  # belongs to the subscription being replaced
        elif kind == "delta" and channel in self.positions:
            # The documented client rule (DESIGN §7, clients/python channel.py): a delta of
            # another epoch, or one that does not follow the held seq, means a fresh snapshot.
            epoch, seq = self.positions[channel]
            reason = "epoch" if frame["epoch"] != epoch else None
            if reason is None and frame.get("prev_seq") != seq:
                reason = "gap"
            if reason is not None:
                frame["ignored"] = True
                self.frames.append(frame)
                self.resyncs.append((channel, reason))
                self.resyncing.add(channel)
                return {"op": "subscribe", "channels": [channel]}
        self.frames.append(frame)
        if kind in ("snapshot", "delta") and frame.get("seq") and not frame.get("ignored"):
            self.positions[str(channel)] = (frame["epoch"], frame["seq"])
        return None

    def last_seq(self, channel: str) -> str | None:
        position = self.positions.get(channel)
        return position[1] if position else None

    def has_reached(self, channel: str, seq: str) -> bool:
        last = self.last_seq(channel)
        return last is not None and seq_key(last) >= seq_key(seq)

    def subscribed(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "subscribed"]

    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "error"]

    def segments(self, channel: str) -> list[list[dict[str, Any]]]:
        """The channel's updates split at each snapshot (a client's state starts over)."""
        found: list[list[dict[str, Any]]] = []
        for frame in self.frames:
            if frame.get("channel") != channel or not frame.get("seq") or frame.get("ignored"):
                continue
            if frame["type"] == "snapshot" or not found:
                found.append([])
            found[-1].append(frame)
        return found


HistoryIds = Callable[[str, str, str], Sequence[str]]


def delivery_verdict(
    scenario: str,
    readers: Sequence[WsReader],
    history: HistoryIds,
    epochs: Mapping[str, str] | None = None,
) -> Verdict:
    """Every reader, every channel, every stretch between snapshots: the updates it got
    versus the channel's history (`history(channel, first_seq, last_seq)`) over that
    stretch. A delta whose `prev_seq` is not the previous seq received also counts as out
    of order (the client would see a gap). With `epochs`, only the stretches in each
    channel's given epoch (the history Redis still has)."""
    total = Verdict(scenario, 0, 0, 0, 0)
    for n, reader in enumerate(readers):
        for channel in reader.channels:
            for segment in reader.segments(channel):
                if epochs is not None and segment[0]["epoch"] != epochs[channel]:
                    continue
                seqs = [f["seq"] for f in segment]
                produced = list(history(channel, seqs[0], max(seqs, key=seq_key)))
                where = f"client {n}, {channel}, {segment[0]['type']} {seqs[0]} on"
                total += compare(scenario, produced, seqs, where=where)
                chain_breaks = sum(
                    1
                    for before, frame in pairwise(segment)
                    if frame["type"] == "delta" and frame.get("prev_seq") != before["seq"]
                )
                total += Verdict(scenario, 0, 0, 0, chain_breaks)
    return total


@contextlib.asynccontextmanager
async def running(*jobs: Callable[[], Any]) -> AsyncIterator[list[asyncio.Task[Any]]]:
    """Run each job's coroutine as a task for the block; cancel them all on the way out."""
    tasks = [asyncio.create_task(job()) for job in jobs]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
