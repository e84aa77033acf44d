"""The Redis side of the cost bounds: budget reservations, the per-asset gate, the cooldown."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import (
    sentiment_budget_key,
    sentiment_cooldown_key,
    sentiment_gate_key,
)
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_sentiment.budget import WINDOW_TTL_S, BudgetLimits, window_of
from marketpulse_sentiment.budget_store import CallBudget
from marketpulse_sentiment.throttle import CallThrottle
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def test_reservations_are_settled_to_the_real_usage(own_redis: Redis) -> None:
    """A reservation books its estimate; settling replaces it by what was used."""
    budget = CallBudget(own_redis, BudgetLimits(calls_per_hour=5, tokens_per_hour=10_000))
    reservation = await budget.reserve(4000)
    assert reservation is not None
    assert (await budget.usage()).tokens == 4000
    await budget.settle(reservation, 1234)
    usage = await budget.usage()
    assert (usage.calls, usage.tokens) == (1, 1234)


async def test_a_refused_reservation_leaves_no_trace(own_redis: Redis) -> None:
    """Over budget: refused, and the window's totals are as before."""
    budget = CallBudget(own_redis, BudgetLimits(calls_per_hour=1, tokens_per_hour=10_000))
    assert await budget.reserve(100) is not None
    assert await budget.reserve(100) is None
    assert await budget.reserve(20_000) is None
    usage = await budget.usage()
    assert (usage.calls, usage.tokens) == (1, 100)


async def test_the_window_follows_the_redis_clock_and_expires(own_redis: Redis) -> None:
    """Counters live under the Redis server's current hour, with a two-hour TTL."""
    budget = CallBudget(own_redis, BudgetLimits(calls_per_hour=5, tokens_per_hour=10_000))
    await budget.reserve(10)
    seconds, _ = await own_redis.time()
    key = sentiment_budget_key(window_of(seconds))
    assert await own_redis.hget(key, "calls") == "1"
    assert 0 < await own_redis.ttl(key) <= WINDOW_TTL_S


async def test_concurrent_replicas_never_overrun_the_budget(redis_server: RedisServer) -> None:
    """200 reservations racing from 4 clients: never more than the limit is admitted."""
    limits = BudgetLimits(calls_per_hour=25, tokens_per_hour=1_000_000)
    clients = [create_redis(redis_server.url) for _ in range(4)]
    try:
        budgets = [CallBudget(c, limits) for c in clients]
        results = await asyncio.gather(*(budgets[n % 4].reserve(100) for n in range(200)))
        usage = await budgets[0].usage()
    finally:
        for c in clients:
            await c.aclose()
    admitted = [r for r in results if r is not None]
    assert 0 < len(admitted) <= 25
    assert usage.calls == len(admitted) and usage.tokens == 100 * len(admitted)


async def test_an_asset_gets_one_turn_per_interval(own_redis: Redis) -> None:
    """The first caller takes the turn; others are refused while it asks and, once it was
    answered, until the interval passes."""
    throttle = CallThrottle(own_redis, min_interval_s=0.2)
    turn = await throttle.take_turn("bitcoin", in_flight_s=30)
    assert turn is not None
    assert await CallThrottle(own_redis, min_interval_s=0.2).take_turn("bitcoin", 30) is None
    assert await throttle.take_turn("ethereum", in_flight_s=30)
    await throttle.end_turn(turn, answered=True)
    assert 0 < await own_redis.pttl(sentiment_gate_key("bitcoin")) <= 200
    await eventually(lambda: throttle.take_turn("bitcoin", 30), timeout=2, what="the next turn")


async def test_a_turn_without_an_answer_is_given_back_and_never_anothers(own_redis: Redis) -> None:
    throttle = CallThrottle(own_redis, min_interval_s=60)
    turn = await throttle.take_turn("bitcoin", in_flight_s=30)
    assert turn is not None
    await throttle.end_turn(turn, answered=False)
    assert not await own_redis.exists(sentiment_gate_key("bitcoin"))
    # A turn that outlived its gate: the next holder's gate is not ended by the late one.
    other = await throttle.take_turn("bitcoin", in_flight_s=30)
    assert other is not None
    await throttle.end_turn(turn, answered=False)
    await throttle.end_turn(turn, answered=True)
    assert await own_redis.get(sentiment_gate_key("bitcoin")) == other.token
    assert 25_000 < await own_redis.pttl(sentiment_gate_key("bitcoin")) <= 30_000


async def test_no_interval_means_no_gate(own_redis: Redis) -> None:
    """MP_SENTIMENT_MIN_INTERVAL_S=0 lets every call through."""
    throttle = CallThrottle(own_redis, min_interval_s=0)
    assert await throttle.take_turn("bitcoin", 30) and await throttle.take_turn("bitcoin", 30)


async def test_a_shorter_cooldown_never_cuts_a_longer_one(own_redis: Redis) -> None:
    """One replica's 429 asked for an hour; another's timeout a moment later asks for a minute:
    the hour stands (the last writer won, so every replica called the limited API again)."""
    await CallThrottle(own_redis, 0).cool_down(3600, "rate limited")
    await CallThrottle(own_redis, 0).cool_down(60, "timed out")
    left = await CallThrottle(own_redis, 0).cooldown_left_s()
    assert left is not None and left > 3500
    assert await own_redis.get(sentiment_cooldown_key()) == "rate limited"


async def test_the_cooldown_is_shared_and_expires(own_redis: Redis) -> None:
    """A cooldown set by one replica is seen by another, and ends by itself."""
    await CallThrottle(own_redis, 0).cool_down(0.2, "overloaded")
    left = await CallThrottle(own_redis, 0).cooldown_left_s()
    assert left is not None and 0 < left <= 0.2

    async def over() -> bool:
        return await CallThrottle(own_redis, 0).cooldown_left_s() is None

    await eventually(over, timeout=2, what="the cooldown to end")
