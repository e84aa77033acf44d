"""Fault 9 — the ingestor SIGKILLed mid-backfill: a restart completes it, no gap, no duplicate.

Proves: an ingestor killed while its first backfill is part-way through (some timeframes
filled, others not; the backfill lease still held by the dead process) is followed by a
restarted ingestor that fills every candle cache to the configured depth with every open
time present once — no gap and no duplicate candle — and goes on publishing candles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from marketpulse_common.timeframes import Timeframe
from tests.faults.product import ASSET, FaultStack, candle_history_verdict, running_fault_stack
from tests.faults.verdict import Verdict
from tests.processes import ServiceProcess
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults]

TIMEFRAMES = [Timeframe.M5, Timeframe.H1, Timeframe.H4, Timeframe.D1]
DEPTH = 2000  # enough candles that the backfill takes a moment to kill it in
# The checked asset first, then two more: after its first cache, eleven are left to fill,
# over a second of work to land the kill in. With one asset the three left took ~0.4 s,
# and a test process starved of CPU by the stack it runs once polled past all of them.
ASSETS = [ASSET, "ethereum", "solana"]


def backfilled(child: ServiceProcess) -> list[dict[str, object]]:
    return [e for e in child.events() if e.get("event") in ("backfilled", "backfill done")]


async def full(stack: FaultStack) -> list[Verdict] | None:
    found = [
        await asyncio.to_thread(candle_history_verdict, stack, f"ingestor {tf.value}", tf)
        for tf in TIMEFRAMES
    ]
    return found if all(v.checked >= DEPTH and v.lost == 0 for v in found) else None


async def test_ingestor_killed_mid_backfill_is_completed_by_a_restart(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    env = {
        "MP_TIMEFRAMES": ",".join(tf.value for tf in TIMEFRAMES),
        "MP_HISTORY_DEPTH": str(DEPTH),
        "MP_ASSETS": ",".join(ASSETS),
    }
    with running_fault_stack(tmp_path, env=env) as stack:
        first = stack.ingestor
        assert first is not None

        async def part_way() -> bool:
            return len(backfilled(first)) >= 1

        await eventually(part_way, timeout=60, interval=0.005, what="the first timeframe filled")
        await asyncio.to_thread(first.kill)
        progress = [e.get("progress") for e in backfilled(first)]
        assert None not in progress, f"the backfill finished before the kill: {progress}"
        assert len(progress) < len(TIMEFRAMES) * len(ASSETS), progress

        stack.ingestor = ServiceProcess("ingestor", stack.env(), stack.workdir)
        found = await eventually(
            lambda: full(stack), timeout=120, interval=0.5, what="every cache filled"
        )
        print("after kill at", progress, [v.line() for v in found])
        verdict = Verdict("ingestor SIGKILL mid-backfill", 0, 0, 0, 0)
        for part in found:
            verdict += part
        verdicts(verdict)
        stack.assert_services_alive()
        verdict.assert_clean()
