"""The hourly model budget in Redis, shared by every replica (arithmetic in budget.py).

A reservation increments the window's counters in one MULTI and reads the new totals back;
if they exceed a limit the increments are undone and the request is not made. Two replicas
reserving at once both see each other's increments, so at worst both are refused while a
rollback is pending: the budget can be under-used for a moment, never overrun.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from marketpulse_common.keys import sentiment_budget_key
from marketpulse_sentiment.budget import WINDOW_TTL_S, BudgetLimits, Usage, admits, window_of


@dataclass(frozen=True, slots=True)
class Reservation:
    key: str
    tokens: int


class CallBudget:
    def __init__(self, redis: Redis, limits: BudgetLimits) -> None:
        self._redis = redis
        self.limits = limits

    async def _window_key(self) -> str:
        # The Redis server's clock: replicas with skewed clocks still share one window.
        seconds, _micros = await self._redis.time()
        return sentiment_budget_key(window_of(seconds))

    async def reserve(self, tokens: int) -> Reservation | None:
        """Book one call and up to `tokens` tokens in this hour; None when over budget."""
        key = await self._window_key()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "calls", 1)
            pipe.hincrby(key, "tokens", tokens)
            pipe.expire(key, WINDOW_TTL_S)
            calls, total, _ = await pipe.execute()
        if admits(self.limits, Usage(calls=int(calls), tokens=int(total))):
            return Reservation(key=key, tokens=tokens)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "calls", -1)
            pipe.hincrby(key, "tokens", -tokens)
            await pipe.execute()
        return None

    async def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace the reservation's estimate by what the request really used."""
        if used_tokens != reservation.tokens:
            await self._redis.hincrby(reservation.key, "tokens", used_tokens - reservation.tokens)

    async def usage(self) -> Usage:
        """This window's totals (reservations in flight included)."""
        values = await self._redis.hmget(await self._window_key(), ["calls", "tokens"])
        return Usage(calls=int(values[0] or 0), tokens=int(values[1] or 0))
