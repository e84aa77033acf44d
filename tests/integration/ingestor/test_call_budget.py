"""The shared upstream budget in Redis: one sliding window, pause and circuit for all replicas."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_ingestor.budget import BudgetLimits, CircuitPolicy
from marketpulse_ingestor.budget_store import CallBudget, Outcome, StrikeBackoff
from marketpulse_ingestor.errors import CallRefused
from tests.coingecko_server.server import iter_windows

pytestmark = pytest.mark.redis

CIRCUIT = CircuitPolicy(threshold=3, cooldown_s=0.4, max_cooldown_s=1.0, probe_timeout_s=0.5)


def budget(
    redis: Redis, host: str, limits: BudgetLimits, circuit: CircuitPolicy = CIRCUIT
) -> CallBudget:
    return CallBudget(redis, host, limits, circuit)


async def test_replicas_racing_for_calls_never_exceed_the_window(
    redis_url: str, unique: str
) -> None:
    """Three clients, 30 calls wanted at once, 4 per 1 s window: no 1 s window holds more than 4."""
    limits = BudgetLimits(calls_per_window=4, window_s=1.0, monthly_calls=None)
    clients = [create_redis(redis_url, client_name=f"replica-{i}") for i in range(3)]
    admitted: list[float] = []

    async def caller(b: CallBudget) -> None:
        for _ in range(10):
            await b.acquire(max_wait_s=30)
            admitted.append(time.time())

    try:
        await asyncio.gather(*(caller(budget(c, unique, limits)) for c in clients))
    finally:
        for client in clients:
            await client.aclose()
    assert len(admitted) == 30
    assert max(count for _, count in iter_windows(admitted, 1.0)) <= 4
    # The ceiling was the only brake: 30 calls took about 30 / 4 windows (plus the guard).
    assert max(admitted) - min(admitted) >= 6.0


async def test_a_call_that_cannot_get_a_slot_in_time_is_refused(redis: Redis, unique: str) -> None:
    """A full window and a caller unwilling to wait: CallRefused, with the wait it would need."""
    b = budget(redis, unique, BudgetLimits(calls_per_window=1, window_s=5, monthly_calls=None))
    await b.acquire(max_wait_s=0)
    with pytest.raises(CallRefused, match="ceiling") as caught:
        await b.acquire(max_wait_s=0.1)
    assert caught.value.retry_in_s is not None and 4.0 < caught.value.retry_in_s <= 5.25


async def test_the_monthly_budget_refuses_at_once_when_spent(redis: Redis, unique: str) -> None:
    """After M calls this month every further call is refused without waiting."""
    b = budget(redis, unique, BudgetLimits(calls_per_window=100, window_s=60, monthly_calls=3))
    for _ in range(3):
        await b.acquire(max_wait_s=0)
    with pytest.raises(CallRefused, match="monthly"):
        await b.acquire(max_wait_s=60)
    assert (await b.state()).calls_month == 3


async def test_a_pause_from_one_replica_holds_every_replica(redis_url: str, unique: str) -> None:
    """A 429 reported on one client pauses calls through another until the pause ends."""
    limits = BudgetLimits(calls_per_window=100, window_s=60, monthly_calls=None)
    one, two = (create_redis(redis_url, client_name=n) for n in ("one", "two"))
    try:
        await budget(one, unique, limits).report(Outcome.RATE_LIMITED, pause_s=1.0)
        other = budget(two, unique, limits)
        admitted, reason, wait = await other.try_acquire()
        assert (admitted, reason) == (False, "paused") and 0.8 < wait <= 1.0
        started = time.monotonic()
        await other.acquire(max_wait_s=5)
        assert time.monotonic() - started >= 0.8
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_shorter_pause_never_shortens_a_longer_one(redis: Redis, unique: str) -> None:
    """Pauses only extend: a later 429 asking for less leaves the longer pause in place."""
    b = budget(redis, unique, BudgetLimits(100, 60, None))
    await b.report(Outcome.RATE_LIMITED, pause_s=5.0)
    state = await b.report(Outcome.RATE_LIMITED, pause_s=0.5)
    assert state.paused_until_ms - state.now_ms > 4000
    assert state.strikes == 2


async def test_a_429_without_retry_after_pauses_by_the_strike_it_records(
    redis: Redis, unique: str
) -> None:
    """No Retry-After: the pause doubles with each strike up to its cap, computed in the same
    script that counts the strike, so no replica's call or success report can come between
    a strike and its pause, and no failure can leave a strike without one."""
    b = budget(redis, unique, BudgetLimits(100, 60, None))
    backoff = StrikeBackoff(base_s=1.0, cap_s=3.0, factor=1.0)
    pauses = []
    for _ in range(4):
        state = await b.report(Outcome.RATE_LIMITED, backoff=backoff)
        pauses.append((state.paused_until_ms - state.now_ms) / 1000)
    assert pauses == pytest.approx([1.0, 2.0, 3.0, 3.0], abs=0.05)
    assert state.strikes == 4
    half = await b.report(Outcome.RATE_LIMITED, backoff=replace(backoff, factor=0.5))
    assert half.paused_until_ms - half.now_ms == pytest.approx(3000, abs=50)  # never shortened


async def test_the_circuit_opens_after_failures_and_lets_one_probe_through(
    redis: Redis, unique: str
) -> None:
    """Three failures open it; after the cooldown exactly one probe goes; its success closes it."""
    b = budget(redis, unique, BudgetLimits(100, 60, None))
    for _ in range(3):
        state = await b.report(Outcome.FAILURE)
    assert state.circuit == "open"
    admitted, reason, _ = await b.try_acquire()
    assert (admitted, reason) == (False, "circuit_open")
    await asyncio.sleep(0.45)
    assert (await b.acquire(max_wait_s=0)).probe
    assert (await b.try_acquire())[1] == "circuit_probe"
    assert (await b.report(Outcome.SUCCESS)).circuit == "closed"
    assert (await b.try_acquire())[0]


async def test_a_failed_probe_reopens_for_longer(redis: Redis, unique: str) -> None:
    """A probe that fails doubles the cooldown (up to its cap)."""
    b = budget(redis, unique, BudgetLimits(100, 60, None))
    for _ in range(3):
        await b.report(Outcome.FAILURE)
    await asyncio.sleep(0.45)
    await b.acquire(max_wait_s=0)
    state = await b.report(Outcome.FAILURE)
    assert state.circuit == "open"
    assert 700 < state.open_until_ms - state.now_ms <= 800


async def test_a_call_is_restamped_when_its_answer_comes(redis: Redis, unique: str) -> None:
    """A slow call counts from its answer, not its admission: the next slot waits for that."""
    b = budget(redis, unique, BudgetLimits(calls_per_window=1, window_s=1.0, monthly_calls=None))
    admission = await b.acquire(max_wait_s=0)
    await asyncio.sleep(0.5)  # the request is in flight
    await b.report(Outcome.SUCCESS, admission=admission)
    admitted, reason, wait = await b.try_acquire()
    assert (admitted, reason) == (False, "window")
    assert wait > 0.95  # a full (guarded) window from the answer, not 0.55 s from admission
