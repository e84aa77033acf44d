"""The status record of an upstream source, for operators and the gateway (/readyz, /metrics).

One Redis hash, `keys.status_key(source)` (`mp:status:coingecko`), rewritten after every
upstream call by whichever replica made it. All values are strings (HGETALL):

| field                  | value                                                              |
|------------------------|--------------------------------------------------------------------|
| source                 | `coingecko`                                                        |
| plan                   | `public`, `demo` or `pro`                                          |
| host                   | upstream host[:port] the budget is kept for                        |
| updated_at             | epoch seconds (float) of this write                                |
| last_success_at        | epoch s of the last call answered with a valid body (absent before) |
| last_success_endpoint  | its path template, e.g. `/coins/markets`                           |
| last_error_at          | epoch s of the last failed call (absent before the first)          |
| last_error             | one line, e.g. `HTTP 503 from /coins/{id}/ohlc`; never a URL or key |
| last_error_kind        | rate_limited, server_error, timeout, transport, malformed or       |
|                        | client_error                                                       |
| calls_window           | calls in the sliding log (last `window_s` s + 5 %), all replicas    |
| window_s               | the window of the ceiling: 60 unless MP_COINGECKO_BUDGET_WINDOW_S  |
| calls_per_window_limit | the ceiling C                                                      |
| calls_month            | calls made this UTC month (all replicas)                           |
| monthly_limit          | monthly credits; "" when the plan has none                         |
| month                  | `YYYY-MM` of calls_month                                           |
| paused_until           | epoch s until which every replica holds its calls (429); 0: none   |
| circuit                | `closed`, `open` or `half_open`                                    |
| consecutive_failures   | failed calls in a row                                              |
| planned_calls_per_minute | what the schedule plans to spend (float)                         |

Everything is as of `updated_at` (a paused or open-circuit upstream gets no calls, so no
writes, until the pause or cooldown ends). `last_success_at` is the upstream's freshness; the
age of each served value is still its own snapshot's `ts`. The record expires a week after
the last write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from redis.asyncio import Redis

from marketpulse_common.keys import status_key
from marketpulse_ingestor.budget import BudgetLimits, month_of
from marketpulse_ingestor.budget_store import GateState

STATUS_TTL_S = 7 * 86_400


def _gate_fields(state: GateState, now: float) -> dict[str, str]:
    return {
        "updated_at": repr(now),
        "calls_window": str(state.calls_window),
        "calls_month": str(state.calls_month),
        "month": month_of(now),
        "paused_until": repr(state.paused_until_ms / 1000 if state.paused_until_ms > 0 else 0),
        "circuit": state.circuit,
        "consecutive_failures": str(state.failures),
    }


class SourceStatus:
    def __init__(
        self,
        redis: Redis,
        *,
        source: str,
        plan: str,
        host: str,
        limits: BudgetLimits,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._key = status_key(source)
        self._wall = wall
        self._static = {
            "source": source,
            "plan": plan,
            "host": host,
            "window_s": f"{limits.window_s:g}",
            "calls_per_window_limit": str(limits.calls_per_window),
            "monthly_limit": "" if limits.monthly_calls is None else str(limits.monthly_calls),
        }

    async def started(self, planned_calls_per_minute: float, state: GateState) -> None:
        fields = {
            **self._static,
            **_gate_fields(state, self._wall()),
            "planned_calls_per_minute": f"{planned_calls_per_minute:.4g}",
        }
        await self._write(fields)

    async def succeeded(self, endpoint: str, state: GateState) -> None:
        now = self._wall()
        fields = {
            **self._static,
            **_gate_fields(state, now),
            "last_success_at": repr(now),
            "last_success_endpoint": endpoint,
        }
        await self._write(fields)

    async def failed(self, message: str, kind: str, state: GateState) -> None:
        now = self._wall()
        fields = {
            **self._static,
            **_gate_fields(state, now),
            "last_error_at": repr(now),
            "last_error": message[:300],
            "last_error_kind": kind,
        }
        await self._write(fields)

    async def read(self) -> dict[str, str]:
        return cast(dict[str, str], await self._redis.hgetall(self._key))

    async def _write(self, fields: dict[str, str]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key, mapping=cast(Mapping[Any, Any], fields))
            pipe.expire(self._key, STATUS_TTL_S)
            await pipe.execute()
