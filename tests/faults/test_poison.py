"""Fault 6 — poison messages on a consumed stream: dead-lettered while the rest flows.

Proves: entries that are not candle events (fields missing, data not JSON, JSON that is not
a candle) appended to a live candles stream, between the ingestor's real events, are each
dead-lettered once with a reason by compute — not retried forever, not blocking the group —
while every real candle event still gets its recorded forecast (lost = 0), the consumer
group ends with nothing pending, the gateway keeps serving WebSocket clients every real
update exactly once, in order, and never forwards a poison entry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from marketpulse_common.events import Candle, decode_payload
from marketpulse_common.keys import DEAD_LETTER_STREAM, Channel, forecasts_key
from marketpulse_common.publisher import entry_from_fields
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.service import GROUP
from tests.faults.load import WsReader, delivery_verdict, running
from tests.faults.product import ASSET, FaultStack, catch_up, running_fault_stack
from tests.faults.verdict import Verdict, compare
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults]

TF = Timeframe.M5
CANDLES = Channel.parse(f"candles:{ASSET}:{TF.value}")
CHANNELS = [CANDLES.name, f"indicators:{ASSET}:{TF.value}"]
CLIENTS = 4


def poison(real: dict[str, str]) -> list[dict[str, str]]:
    """Three entries that are not candle events, shaped after a real one."""
    return [
        {"junk": "1"},
        {**real, "d": "{not json"},
        {**real, "d": '{"t": "yesterday", "o": -1}'},
    ]


def candle_events(stack: FaultStack, first: str, poisoned: set[str]) -> list[tuple[str, int]]:
    """(id, open time) of each real candle event from `first` on."""
    rows = stack.redis.xrange(CANDLES.stream_key, first, "+")
    found = []
    for entry_id, fields in rows:  # type: ignore[union-attr]
        if entry_id in poisoned:
            continue
        entry = entry_from_fields(fields)
        value = decode_payload(entry.schema, entry.data)
        assert isinstance(value, Candle)
        found.append((entry_id, value.t))
    return found


async def recorded(stack: FaultStack) -> set[int]:
    """The open times that have a recorded forecast."""
    return {int(t) for t in stack.redis.hkeys(forecasts_key(ASSET, TF))}  # type: ignore[union-attr]


async def all_recorded(stack: FaultStack, produced: list[int]) -> bool:
    return set(produced) <= await recorded(stack)


async def settled(stack: FaultStack) -> bool:
    info = stack.redis.xpending(CANDLES.stream_key, GROUP)
    return int(info["pending"]) == 0  # type: ignore[index]


async def test_poison_entries_are_dead_lettered_while_real_events_flow(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    scenario = "poison message"
    with running_fault_stack(tmp_path, env={"MP_CLAIM_IDLE_MS": "1000"}) as stack:
        for channel in [*CHANNELS, f"forecast:{ASSET}:{TF.value}"]:
            await asyncio.to_thread(stack.wait_for_value, channel, 90)
        readers = [WsReader([stack.ws_url], CHANNELS) for _ in range(CLIENTS)]
        async with running(*(r.run for r in readers)):
            await catch_up(stack, readers, CHANNELS)
            start = stack.stream_ids(CANDLES.name)[-1]
            real = stack.redis.xrange(CANDLES.stream_key, start, start)[0][1]  # type: ignore[index]
            poisoned: list[str] = []
            for fields in poison(real):
                await catch_up(stack, readers, CHANNELS)  # between real events
                poisoned.append(str(stack.redis.xadd(CANDLES.stream_key, fields)))
            for _ in range(3):
                await catch_up(stack, readers, CHANNELS)
            await eventually(lambda: settled(stack), timeout=30, what="nothing pending")
        stack.assert_services_alive()

        produced = [t for _, t in candle_events(stack, start, set(poisoned))]
        # The newest events may still be in hand: wait (bounded) for their forecasts.
        with contextlib.suppress(AssertionError):
            await eventually(lambda: all_recorded(stack, produced), timeout=30, what="forecasts")
        done = await recorded(stack)
        forecasts = compare(scenario, produced, [t for t in produced if t in done])

        letters = stack.redis.xrange(DEAD_LETTER_STREAM)
        lettered = [f for _, f in letters if f.get("stream") == CANDLES.stream_key]  # type: ignore[union-attr]
        dead = compare("dead letters", poisoned, [f.get("id") for f in lettered])

        def history(channel: str, first: str, last: str) -> Sequence[str]:
            ids = stack.stream_ids(channel, first, last)
            if channel != CANDLES.name:
                # Ids are per stream: an indicators entry written in the same millisecond
                # as a poison entry carries the same id, and is a real update.
                return ids
            return [i for i in ids if i not in poisoned]

        delivered = delivery_verdict(scenario, readers, history)
        verdict = forecasts + dead + delivered
        verdicts(verdict)
        assert all(r.resyncs == [] and r.errors() == [] for r in readers)
        verdict.assert_clean()
