"""Fault 1, whole product — a compute replica SIGKILLed under REST and WebSocket load.

Proves: with the simulated ingestor announcing candles at 600× and two compute replicas
sharing them, SIGKILLing the replica that holds delivered, unacknowledged candle events
while WebSocket clients and REST readers watch loses no event (every candle announced from
before the kill to the end gets its recorded forecast) and shows clients no duplicate, gap
or out-of-order update on the indicators and forecast channels; REST answers no 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from marketpulse_common.events import Candle, decode_payload
from marketpulse_common.keys import Channel, forecasts_key
from marketpulse_common.publisher import entry_from_fields
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.service import GROUP
from tests.faults.load import RestLoad, WsReader, delivery_verdict, running
from tests.faults.product import ASSET, FaultStack, catch_up, rest_urls, running_fault_stack
from tests.faults.verdict import Verdict, compare
from tests.processes import ServiceProcess
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults]

TF = Timeframe.M5
CANDLES = Channel.parse(f"candles:{ASSET}:{TF.value}")
CHANNELS = [f"indicators:{ASSET}:{TF.value}", f"forecast:{ASSET}:{TF.value}"]
CLIENTS = 6


def consumer(child: ServiceProcess) -> str:
    return f"compute-{socket.gethostname()}-{child.pid}"


def held(stack: FaultStack) -> dict[str, int]:
    rows = stack.redis.xinfo_consumers(CANDLES.stream_key, GROUP)
    return {str(r["name"]): int(r["pending"]) for r in rows}  # type: ignore[union-attr]


def announced(stack: FaultStack, first: str) -> list[int]:
    times = []
    for _, fields in stack.redis.xrange(CANDLES.stream_key, first, "+"):  # type: ignore[union-attr]
        entry = entry_from_fields(fields)
        value = decode_payload(entry.schema, entry.data)
        assert isinstance(value, Candle)
        times.append(value.t)
    return times


async def recorded(stack: FaultStack) -> set[int]:
    return {int(t) for t in stack.redis.hkeys(forecasts_key(ASSET, TF))}  # type: ignore[union-attr]


async def test_compute_replica_killed_under_load_loses_and_doubles_nothing(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    scenario = "compute SIGKILL, whole product"
    with running_fault_stack(tmp_path, env={"MP_CLAIM_IDLE_MS": "1000"}) as stack:
        replicas = [stack.compute, stack.start_compute_replica()]
        for channel in CHANNELS:
            await asyncio.to_thread(stack.wait_for_value, channel, 90)
        readers = [WsReader([stack.ws_url], CHANNELS) for _ in range(CLIENTS)]
        rest = RestLoad(rest_urls(stack.base_url))
        async with running(*(r.run for r in readers), rest.run):
            await catch_up(stack, readers, CHANNELS)
            first = stack.stream_ids(CANDLES.name)[-1]

            async def holder() -> ServiceProcess | None:
                pending = held(stack)
                return next((c for c in replicas if c and pending.get(consumer(c), 0)), None)

            victim = await eventually(holder, timeout=30, interval=0.002, what="a holder")
            await asyncio.to_thread(victim.kill)
            assert held(stack)[consumer(victim)] > 0, "the victim finished before the kill"
            for _ in range(5):
                await catch_up(stack, readers, CHANNELS, timeout=60)
            produced = announced(stack, first)

            async def finished() -> bool:
                # The victim may have stored its forecast without acknowledging it: its entry
                # stays pending until a survivor's next reclaim pass (every claim interval,
                # once idle past MP_CLAIM_IDLE_MS), so wait for that too, not only the record.
                reclaimed = held(stack).get(consumer(victim), 0) == 0
                return reclaimed and set(produced) <= await recorded(stack)

            with contextlib.suppress(AssertionError):
                await eventually(finished, timeout=30, what="every candle recorded and reclaimed")
        assert held(stack).get(consumer(victim), 0) == 0  # reclaimed and finished
        done = await recorded(stack)
        verdict = compare(scenario, produced, [t for t in produced if t in done])
        verdict += delivery_verdict(scenario, readers, stack.stream_ids)
        verdicts(verdict)
        assert rest.count_5xx() == 0, rest.server_errors[:5]
        assert all(r.resyncs == [] and r.errors() == [] for r in readers)
        verdict.assert_clean()
