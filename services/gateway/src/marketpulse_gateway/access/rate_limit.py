"""Rate limiting per API key or client IP, shared by every gateway replica through Redis.

The budget lives in Redis as one GCRA timestamp per subject (gcra.py), checked and advanced
by one atomic script, so a client spreading its requests over replicas gets one budget, not
one per replica. Asking Redis on every request would cost each hot read a round trip (it
would triple the cost of a cached GET), so each replica takes tokens in small batches and
spends them locally:

- A subject starts with batches of one. When a batch is spent quickly its next one doubles,
  up to `max_batch` (1/8 of the burst, at most 256); a slow subject shrinks back to one. A
  busy client costs Redis one script call per batch, a quiet one behaves exactly.
- Tokens a replica holds are already debited from the shared budget, so replicas together
  never admit more than the limit. The price is the other way: a client may be refused up
  to (replicas − 1) × max_batch requests early, and unspent tokens lapse after LEASE_TTL_S
  so an idle replica does not sit on budget.
- A busy subject's next batch is fetched while it spends the second half of the current
  one, and should Redis answer later than the batch lasts, up to half a batch more is
  admitted on credit and taken from the shared budget with that refill: no request of a
  busy client waits on Redis. Credit is the one way past the shared limit: when the budget
  cannot cover it, the client was admitted up to max_batch / 2 early per replica, once, as
  it reached its limit; its next request is refused with the exact wait.
- A refusal is remembered locally until its Retry-After, so a client hammering past its
  limit costs Redis nothing more.
- While Redis is unreachable the same GCRA runs in-process: limits hold per replica instead
  of across replicas, and no request waits on a dead Redis.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.keys import rate_limit_key
from marketpulse_gateway.access.gcra import GcraPolicy, Take, expiry_ms, take
from marketpulse_gateway.store_health import StoreHealth

# Unspent tokens are dropped after this: long enough to carry a busy client between two
# refills, short enough that a replica never sits on much of anyone's budget.
LEASE_TTL_S = 1.0
# A batch spent faster than this means the subject is busy: take more next time.
BUSY_REFILL_S = 0.25
MAX_BATCH = 256
# Subjects taking batches at least this big fetch the next one before they run out.
PREFETCH_BATCH = 8
# Subjects remembered per replica before idle ones are forgotten (memory bound under a
# flood of distinct client addresses).
MAX_SUBJECTS = 50_000
# The script runs in microseconds; past this Redis is sick and the replica decides alone.
REDIS_TIMEOUT_S = 0.25

# gcra.take in Lua, for a `now` (µs) the script defines first: ARGV = interval, tolerance,
# want; KEYS[1] holds the subject's TAT. Replies {granted, retry_after_us}, and stores the new
# TAT when it grants. tests/integration/gateway/access/test_gcra_parity.py runs it against
# gcra.take on generated inputs.
GCRA_STEP_LUA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local granted = math.floor((tolerance - (tat - now)) / interval)
if granted > want then granted = want end
if granted < 1 then
  return {0, tat + interval - tolerance - now}
end
tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
return {granted, 0}
"""
# On Redis's clock, so the replicas' clocks never matter.
_GCRA_LUA = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""
    + GCRA_STEP_LUA
)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


ALLOWED = Verdict(True)


class Buckets(Protocol):
    async def take(self, subject: str, want: int) -> Take: ...


class RedisBuckets:
    """The shared budget: the GCRA script, on Redis's clock so replicas' clocks never matter."""

    def __init__(self, redis: Redis, policy: GcraPolicy, *, timeout_s: float = REDIS_TIMEOUT_S):
        self._script = redis.register_script(_GCRA_LUA)
        self._args = [policy.interval_us, policy.tolerance_us]
        self._timeout_s = timeout_s

    async def take(self, subject: str, want: int) -> Take:
        async with asyncio.timeout(self._timeout_s):
            granted, retry_us = await self._script(
                keys=[rate_limit_key(subject)], args=[*self._args, want]
            )
        return Take(int(granted), 0, int(retry_us))


class MemoryBuckets:
    """The same GCRA in this process: the fallback while Redis is unreachable."""

    def __init__(self, policy: GcraPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._tats: dict[str, int] = {}

    async def take(self, subject: str, want: int) -> Take:
        return self.take_now(subject, want)

    def take_now(self, subject: str, want: int) -> Take:
        now = int(self._clock() * 1e6)
        result = take(self._policy, self._tats.get(subject), now, want)
        if result.granted:
            if len(self._tats) >= MAX_SUBJECTS:
                self._forget_idle(now)
            self._tats[subject] = result.tat_us
        return result

    def _forget_idle(self, now_us: int) -> None:
        self._tats = {s: tat for s, tat in self._tats.items() if expiry_ms(tat, now_us) > 1}


def next_batch(previous: int, since_refill_s: float, max_batch: int) -> int:
    """Tokens to take next: double while batches run out fast, halve once they do not."""
    if since_refill_s < BUSY_REFILL_S:
        return min(max_batch, previous * 2)
    return max(1, previous // 2)


def max_batch_for(policy: GcraPolicy) -> int:
    return max(1, min(MAX_BATCH, policy.burst // 8))


@dataclass(slots=True)
class _Local:
    tokens: int = 0
    expires_at: float = 0.0
    blocked_until: float = 0.0
    batch: int = 1
    refilled_at: float = -math.inf
    pending: asyncio.Future[None] | None = None
    borrowed: int = 0  # admitted on credit while `pending`, repaid from its batch


class RateLimiter:
    def __init__(
        self,
        shared: Buckets,
        fallback: MemoryBuckets,
        health: StoreHealth,
        *,
        max_batch: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._fallback = fallback
        self._health = health
        self._max_batch = max_batch
        self._clock = clock
        self._locals: dict[str, _Local] = {}
        self._prefetching: set[asyncio.Task[Verdict]] = set()

    def check(self, subject: str) -> Verdict | None:
        """Decide from this replica's state alone; None when the shared budget must be asked."""
        local = self._locals.get(subject)
        if local is None:
            return None
        now = self._clock()
        if local.tokens > 0:
            if now < local.expires_at:
                local.tokens -= 1
                if local.tokens <= local.batch // 2 and local.batch >= PREFETCH_BATCH:
                    self._prefetch(subject, local)
                return ALLOWED
            local.tokens = 0
        busy = local.batch >= PREFETCH_BATCH
        if busy and local.pending is not None and local.borrowed < local.batch // 2:
            local.borrowed += 1
            return ALLOWED
        if now < local.blocked_until:
            return Verdict(False, max(1, math.ceil(local.blocked_until - now)))
        return None

    async def admit(self, subject: str) -> Verdict:
        """Admit one request of `subject` or say how long it must wait."""
        while (verdict := self.check(subject)) is None:
            local = self._local(subject)
            if local.pending is None:
                return await self._refill(subject, local, self._claim(local), spend=True)
            # Another request of this subject is already asking: share its answer.
            await asyncio.shield(local.pending)
        return verdict

    def _prefetch(self, subject: str, local: _Local) -> None:
        # A busy subject's next batch is fetched while it spends the last of this one, so
        # its requests never wait on Redis.
        if local.pending is None:
            task = asyncio.get_running_loop().create_task(
                self._refill(subject, local, self._claim(local), spend=False)
            )
            self._prefetching.add(task)
            task.add_done_callback(self._prefetching.discard)

    @staticmethod
    def _claim(local: _Local) -> asyncio.Future[None]:
        """Mark a refill of `local` as under way (at once, so no second one starts)."""
        local.pending = asyncio.get_running_loop().create_future()
        return local.pending

    async def _refill(
        self, subject: str, local: _Local, done: asyncio.Future[None], *, spend: bool
    ) -> Verdict:
        """Take a batch from the shared budget; `spend` one token of it for the caller."""
        try:
            now = self._clock()
            local.batch = next_batch(local.batch, now - local.refilled_at, self._max_batch)
            result = await self._take(subject, local.batch + local.borrowed)
            now = self._clock()
            # Credit taken while waiting is paid from the batch first; what the budget could
            # not cover is forgiven (bounded above), and the next request asks again.
            granted, local.borrowed = result.granted - local.borrowed, 0
            if not result.granted:
                local.blocked_until = now + result.retry_after_us / 1e6
                return Verdict(False, max(1, math.ceil(result.retry_after_us / 1e6)))
            local.tokens = max(0, local.tokens + granted - spend)
            local.expires_at = now + LEASE_TTL_S
            local.refilled_at = now
            return ALLOWED
        finally:
            local.pending = None
            done.set_result(None)

    async def _take(self, subject: str, want: int) -> Take:
        if self._health.reachable:
            try:
                return await self._shared.take(subject, want)
            except (RedisError, OSError, TimeoutError) as e:
                self._health.report_error(e, "rate limit")
        return self._fallback.take_now(subject, want)

    def _local(self, subject: str) -> _Local:
        local = self._locals.get(subject)
        if local is None:
            if len(self._locals) >= MAX_SUBJECTS:
                self._forget_idle()
            local = self._locals[subject] = _Local()
        return local

    def _forget_idle(self) -> None:
        now = self._clock()
        self._locals = {
            s: local
            for s, local in self._locals.items()
            if local.pending is not None or now < max(local.expires_at, local.blocked_until)
        }
