"""Fault 3 — Redis frozen (SIGSTOP) for 30 s under REST and WebSocket load.

Proves: while redis-server is stopped (it keeps every connection open and answers nothing,
the nastiest kind of outage) the gateway answers every REST read from memory with zero 5xx
and no hung request, marking what it serves `meta.stale: true` (DESIGN §6, /readyz
`degraded`); once Redis is continued, without restarting any service, fresh data flows
again (`stale: false`), WebSocket clients receive every update of each channel's history
exactly once and in order, and the stored candle history has no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.faults.load import RestLoad, WsReader, delivery_verdict, running
from tests.faults.product import (
    ASSET,
    catch_up,
    no_gap,
    readiness_is,
    rest_urls,
    running_fault_stack,
)
from tests.faults.verdict import Verdict
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults, pytest.mark.slow]

PAUSE_S = 30.0  # the figure: long enough for every client and service timeout to fire
# How long the gateway may take to notice (its PING watch: every 0.5 s, 0.5 s timeout).
NOTICE_S = 3.0
CHANNELS = [f"ticker:{ASSET}", f"candles:{ASSET}:5m", f"indicators:{ASSET}:5m"]
CLIENTS = 6


async def test_redis_paused_30s_gives_no_5xx_and_everything_flows_again(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    with running_fault_stack(tmp_path) as stack:
        for channel in CHANNELS:
            await asyncio.to_thread(stack.wait_for_value, channel)
        readers = [WsReader([stack.ws_url], CHANNELS) for _ in range(CLIENTS)]
        rest = RestLoad(rest_urls(stack.base_url))
        async with (
            running(*(r.run for r in readers), rest.run),
            httpx.AsyncClient(base_url=stack.base_url, timeout=10) as http,
        ):
            await catch_up(stack, readers, CHANNELS)
            await eventually(lambda: fresh(rest), timeout=30, what="fresh REST answers")

            stack.pause_redis()
            paused_at = time.monotonic()
            try:
                await eventually(
                    lambda: readiness_is(http, "degraded"), timeout=NOTICE_S * 3,
                    what="/readyz degraded",
                )  # fmt: skip
                await eventually(
                    lambda: elapsed(paused_at, PAUSE_S), timeout=PAUSE_S + 5, interval=0.5,
                    what="the pause to run its course",
                )  # fmt: skip
            finally:
                stack.resume_redis()
            resumed_at = time.monotonic()

            await eventually(lambda: readiness_is(http, "ready"), timeout=60, what="ready again")
            for _ in range(3):
                await catch_up(stack, readers, CHANNELS, timeout=60)
            await eventually(lambda: fresh(rest), timeout=30, what="fresh REST answers again")
        stack.assert_services_alive()

        during = rest.between(paused_at + NOTICE_S, resumed_at)
        candles = await eventually(
            lambda: no_gap(stack), timeout=60, what="the candle history whole again"
        )
        verdict = delivery_verdict("Redis SIGSTOP 30 s", readers, stack.stream_ids) + candles
        verdicts(verdict)
        assert rest.count_5xx() == 0, rest.server_errors[:5]
        assert sum(rest.errors.values()) == 0, rest.errors  # no request hung or was refused
        assert len(during) > 50 and all(a == (200, True) for a in during), set(during)
        assert all(r.errors() == [] for r in readers)
        assert all(r.resyncs == [] for r in readers)  # no client saw a gap or lost history
        verdict.assert_clean()


async def elapsed(since: float, seconds: float) -> bool:
    return time.monotonic() - since >= seconds


async def fresh(rest: RestLoad) -> bool:
    return bool(rest.timeline) and rest.timeline[-1][1:] == (200, False)
