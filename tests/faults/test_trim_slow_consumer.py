"""Fault 7 — stream trimming under a slow (here: frozen) consumer never deletes its work.

Proves: with the compute replica SIGSTOPped while it holds delivered, unacknowledged candle
events and the ingestor keeps announcing more, a retention pass (the producers' own
`trim_stream`, run with a bound far below the backlog) removes nothing the "compute" group
still needs — neither its pending entries nor the ones not yet delivered — while a second
group that has read everything does not hold trimming back; once compute is continued it
finishes every event (each gets its recorded forecast: lost = 0), and only then can the
same pass trim the stream down to its bound.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from marketpulse_common.connection import create_redis
from marketpulse_common.events import Candle, decode_payload
from marketpulse_common.keys import Channel, forecasts_key
from marketpulse_common.publisher import entry_from_fields
from marketpulse_common.retention import trim_stream
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.service import GROUP
from tests.faults.product import ASSET, FaultStack, running_fault_stack
from tests.faults.verdict import Verdict, compare
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults]

TF = Timeframe.M5
CANDLES = Channel.parse(f"candles:{ASSET}:{TF.value}")
BOUND = 5  # the retention bound used for the pass: far below the backlog
BACKLOG = 20  # events announced while compute is frozen


def pending(stack: FaultStack) -> int:
    return int(stack.redis.xpending(CANDLES.stream_key, GROUP)["pending"])  # type: ignore[index]


def keep_up(stack: FaultStack) -> None:
    """The fast reader group reads and acknowledges everything there is."""
    replies = stack.redis.xreadgroup("fast-reader", "r1", {CANDLES.stream_key: ">"})
    for _, entries in replies or []:  # type: ignore[union-attr]
        ids = [entry_id for entry_id, _ in entries]
        if ids:
            stack.redis.xack(CANDLES.stream_key, "fast-reader", *ids)


async def trim(stack: FaultStack, maxlen: int) -> int:
    client = create_redis(stack.redis_url, client_name="faults-trim")
    try:
        return await trim_stream(client, CANDLES.stream_key, maxlen)
    finally:
        await client.aclose()


async def test_trimming_under_a_frozen_consumer_keeps_its_pending_work(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    with running_fault_stack(tmp_path) as stack:
        compute = stack.compute
        assert compute is not None
        await asyncio.to_thread(stack.wait_for_value, f"forecast:{ASSET}:{TF.value}", 90)
        # A reader group that keeps up (as a fast consumer would): it must not protect anything.
        stack.redis.xgroup_create(CANDLES.stream_key, "fast-reader", id="$")

        async def holding() -> bool:
            return pending(stack) > 0

        await eventually(holding, timeout=30, interval=0.002, what="compute holding work")
        os.kill(compute.pid, signal.SIGSTOP)
        try:
            held = pending(stack)
            assert held > 0, "compute finished its work before the freeze landed"
            floor = str(stack.redis.xpending(CANDLES.stream_key, GROUP)["min"])  # type: ignore[index]

            async def backlog() -> list[str]:
                ids = stack.stream_ids(CANDLES.name, floor)
                return ids if len(ids) >= BACKLOG else []

            owed = await eventually(backlog, timeout=60, what=f"{BACKLOG} events owed to compute")
            keep_up(stack)
            removed = await trim(stack, BOUND)
            kept = stack.stream_ids(CANDLES.name, floor)
            assert pending(stack) == held
        finally:
            os.kill(compute.pid, signal.SIGCONT)

        def still_there() -> Verdict:
            return compare("trim under a slow consumer", owed, [i for i in kept if i in owed])

        survived = still_there()
        times = dict(open_times(stack, owed))

        async def finished() -> bool:
            recorded = {int(t) for t in stack.redis.hkeys(forecasts_key(ASSET, TF))}  # type: ignore[union-attr]
            return pending(stack) == 0 and set(times.values()) <= recorded

        await eventually(finished, timeout=60, what="compute finishing the backlog")
        recorded = {int(t) for t in stack.redis.hkeys(forecasts_key(ASSET, TF))}  # type: ignore[union-attr]
        produced = list(times.values())
        verdict = survived + compare(
            survived.scenario, produced, [t for t in produced if t in recorded]
        )
        verdicts(verdict)
        # Trimming was not a no-op: once compute caught up, the same pass cuts to the bound.
        keep_up(stack)
        later = await trim(stack, BOUND)
        length = int(stack.redis.xlen(CANDLES.stream_key))  # type: ignore[arg-type]
        print("removed while frozen:", removed, "after:", later, "length:", length)
        assert later > 0 and length <= BOUND + 5
        verdict.assert_clean()


def open_times(stack: FaultStack, ids: list[str]) -> list[tuple[str, int]]:
    found = []
    for entry_id in ids:
        rows = stack.redis.xrange(CANDLES.stream_key, entry_id, entry_id)
        if rows:
            entry = entry_from_fields(rows[0][1])  # type: ignore[index]
            value = decode_payload(entry.schema, entry.data)
            assert isinstance(value, Candle)
            found.append((entry_id, value.t))
    return found
