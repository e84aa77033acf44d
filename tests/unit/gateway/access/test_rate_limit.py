"""The batching rate limiter: shared budget never exceeded, few shared calls, local refusals."""

from __future__ import annotations

import asyncio

import pytest

from marketpulse_gateway.access.gcra import GcraPolicy, Take
from marketpulse_gateway.access.rate_limit import (
    LEASE_TTL_S,
    MemoryBuckets,
    RateLimiter,
    max_batch_for,
    next_batch,
)
from marketpulse_gateway.store_health import StoreHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingBuckets:
    """A shared budget (the in-memory GCRA) that counts how often it is asked."""

    def __init__(self, policy: GcraPolicy, clock: Clock) -> None:
        self.inner = MemoryBuckets(policy, clock)
        self.calls = 0

    async def take(self, subject: str, want: int) -> Take:
        self.calls += 1
        return self.inner.take_now(subject, want)


class FailingBuckets:
    async def take(self, subject: str, want: int) -> Take:
        raise ConnectionError("redis is down")


def limiter(shared: object, policy: GcraPolicy, clock: Clock, health: StoreHealth) -> RateLimiter:
    return RateLimiter(
        shared,  # type: ignore[arg-type]
        MemoryBuckets(policy, clock),
        health,
        max_batch=max_batch_for(policy),
        clock=clock,
    )


async def admitted(limit: RateLimiter, subject: str, count: int) -> int:
    return sum([(await limit.admit(subject)).allowed for _ in range(count)])


def test_batches_double_while_busy_and_shrink_when_quiet() -> None:
    """A batch spent quickly doubles (to the cap); a slow one halves (to one)."""
    assert next_batch(1, 0.01, 64) == 2
    assert next_batch(48, 0.01, 64) == 64
    assert next_batch(64, 5.0, 64) == 32
    assert next_batch(1, 5.0, 64) == 1


def test_max_batch_is_an_eighth_of_the_burst_capped() -> None:
    """Replicas never hold more than 1/8 of a subject's burst each (and at most 256)."""
    assert max_batch_for(GcraPolicy.per_minute(600, 100)) == 12
    assert max_batch_for(GcraPolicy.per_minute(600, 4)) == 1
    assert max_batch_for(GcraPolicy.per_minute(10**6, 10**5)) == 256


async def test_busy_subject_asks_the_shared_budget_once_per_batch() -> None:
    """A busy client is admitted up to its burst with far fewer shared calls than requests."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 800)
    shared = CountingBuckets(policy, clock)
    limit = limiter(shared, policy, clock, StoreHealth())
    assert await admitted(limit, "ip:a", 800) == 800
    assert shared.calls < 30


async def test_credit_past_the_limit_is_bounded() -> None:
    """Credit taken while a refill is on its way overshoots the limit by at most half a batch."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 800)
    limit = limiter(SlowBuckets(policy, clock), policy, clock, StoreHealth())
    verdicts = [await limit.admit("ip:a") for _ in range(1000)]
    allowed = sum(v.allowed for v in verdicts)
    assert 800 <= allowed <= 800 + max_batch_for(policy) // 2
    assert not verdicts[-1].allowed
    assert verdicts[-1].retry_after_s >= 1


async def test_replicas_together_never_exceed_the_shared_budget() -> None:
    """Two replicas sharing one budget admit at most the burst between them."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 40)
    shared = CountingBuckets(policy, clock)
    one = limiter(shared, policy, clock, StoreHealth())
    two = limiter(shared, policy, clock, StoreHealth())
    total = 0
    for _ in range(50):
        total += (await one.admit("key:k")).allowed + (await two.admit("key:k")).allowed
    assert 40 - 2 * max_batch_for(policy) <= total <= 40


async def test_refusal_is_remembered_until_retry_after() -> None:
    """Once refused, a subject is refused locally (no shared call) until it may retry."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 2)
    shared = CountingBuckets(policy, clock)
    limit = limiter(shared, policy, clock, StoreHealth())
    await admitted(limit, "ip:a", 2)
    refused = await limit.admit("ip:a")
    assert (refused.allowed, refused.retry_after_s) == (False, 1)
    calls = shared.calls
    assert limit.check("ip:a") == refused
    assert shared.calls == calls
    clock.now += 1.0
    assert (await limit.admit("ip:a")).allowed


async def test_unspent_tokens_lapse() -> None:
    """Tokens a replica took but did not spend are dropped after the lease TTL."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 800)
    shared = CountingBuckets(policy, clock)
    limit = limiter(shared, policy, clock, StoreHealth())
    await admitted(limit, "ip:a", 10)  # batches 1, 2, 4, 8: tokens left over
    clock.now += LEASE_TTL_S
    assert limit.check("ip:a") is None


class SlowBuckets(CountingBuckets):
    """A shared budget that answers only after a pause, recording how many calls overlap."""

    def __init__(self, policy: GcraPolicy, clock: Clock) -> None:
        super().__init__(policy, clock)
        self.in_flight = 0
        self.most_in_flight = 0

    async def take(self, subject: str, want: int) -> Take:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return await super().take(subject, want)


async def test_concurrent_requests_of_a_subject_never_ask_at_once() -> None:
    """Requests of one subject arriving together queue behind one shared call at a time."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 800)
    shared = SlowBuckets(policy, clock)
    limit = limiter(shared, policy, clock, StoreHealth())
    verdicts = await asyncio.gather(*(limit.admit("ip:a") for _ in range(20)))
    assert all(v.allowed for v in verdicts)
    assert shared.most_in_flight == 1
    assert shared.calls < 20


async def test_busy_subject_stops_waiting_on_the_shared_budget() -> None:
    """Once its batches are big, a busy subject's next batch arrives before it runs out."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 8000)
    limit = limiter(CountingBuckets(policy, clock), policy, clock, StoreHealth())
    waited = 0
    for _ in range(2000):
        if limit.check("ip:a") is None:
            waited += 1
            assert (await limit.admit("ip:a")).allowed
        await asyncio.sleep(0)  # the event loop runs between requests
    assert waited <= 4  # batches of 1, 2 and 4 before prefetching starts


async def test_local_limits_hold_while_the_store_is_down() -> None:
    """With Redis failing, the same limit is enforced in-process and the outage is reported."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 3)
    health = StoreHealth()
    limit = limiter(FailingBuckets(), policy, clock, health)
    assert await admitted(limit, "ip:a", 5) == 3
    assert not health.reachable


@pytest.mark.parametrize("subjects", [["ip:a", "ip:b"]])
async def test_subjects_have_separate_budgets(subjects: list[str]) -> None:
    """One client over its limit does not spend another's budget."""
    clock, policy = Clock(), GcraPolicy.per_minute(60, 2)
    limit = limiter(CountingBuckets(policy, clock), policy, clock, StoreHealth())
    assert await admitted(limit, subjects[0], 5) == 2
    assert await admitted(limit, subjects[1], 5) == 2
