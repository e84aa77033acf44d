"""The upstream budget every ingestor replica shares, kept atomically in Redis.

Three keys per upstream host (one hash tag, so each script touches one Cluster slot):

- `upstream_calls_key`: the sliding log, a sorted set of admitted calls scored by time (ms);
- `upstream_month_key`: calls this UTC month;
- `upstream_gate_key`: a hash: `paused_until` (ms; set by 429s), the circuit breaker's
  `failures` (in a row), `open_until`, `cooldown`, `probe_until` (ms), and `strikes` (429s
  in a row, for the backoff when no Retry-After came with them).

Scripts read Redis's own clock (TIME), so replicas on hosts whose clocks disagree still
share one window. The admission rule is budget.decide; the arithmetic is explained there.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from marketpulse_common.keys import upstream_calls_key, upstream_gate_key, upstream_month_key
from marketpulse_ingestor.budget import (
    MONTH_KEY_TTL_S,
    BudgetLimits,
    CircuitPolicy,
    CircuitState,
    circuit_state,
    month_of,
    seconds_left_in_month,
)
from marketpulse_ingestor.errors import CallRefused

# The gate outlives the longest pause (marketpulse_common.backoff.MAX_PAUSE_S, a day) and any
# cooldown.
GATE_TTL_S = 2 * 86_400
# A refused call waits until the moment it may go, and a hair more: Redis's clock and
# asyncio's timer differ by a little.
WAKE_SLACK_S = 0.005

# Every script starts by reading `now` (ms) from Redis's clock; a test may put another first.
REDIS_CLOCK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_STATE_LUA_FN = """
local function state(log_window)
  local used = redis.call('ZCOUNT', KEYS[1], string.format('(%.0f', now - log_window), '+inf')
  local g = redis.call('HMGET', KEYS[3], 'paused_until', 'open_until', 'failures', 'strikes')
  return {used, tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(g[1] or '0'),
          tonumber(g[2] or '0'), tonumber(g[3] or '0'), tonumber(g[4] or '0'), now}
end
"""

# KEYS: calls, month, gate. ARGV: log_window_ms, limit, monthly (0 = none), member,
# month_ttl_s, probe_timeout_ms. Returns {admitted, reason, wait_ms}.
ACQUIRE_RULE_LUA = """
local log_window = tonumber(ARGV[1])
local gate = redis.call('HMGET', KEYS[3], 'paused_until', 'open_until', 'probe_until')
local paused = tonumber(gate[1] or '0')
if paused > now then return {0, 'paused', paused - now} end
local open_until = tonumber(gate[2] or '0')
local probing = false
if open_until > 0 then
  if open_until > now then return {0, 'circuit_open', open_until - now} end
  local probe_until = tonumber(gate[3] or '0')
  if probe_until > now then return {0, 'circuit_probe', probe_until - now} end
  probing = true
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - log_window)
local logged = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[2])
if logged >= limit then
  -- A slot frees when the limit-th newest call leaves (the oldest, unless the log holds more
  -- than the limit: replicas with a lower limit, or one just lowered).
  local leaving = redis.call('ZRANGE', KEYS[1], logged - limit, logged - limit, 'WITHSCORES')
  return {0, 'window', tonumber(leaving[2]) + log_window - now}
end
local monthly = tonumber(ARGV[3])
if monthly > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= monthly then
  return {0, 'month', 0}
end
if probing then redis.call('HSET', KEYS[3], 'probe_until', now + tonumber(ARGV[6])) end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], log_window)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
if probing then return {1, 'probe', 0} end
return {1, 'ok', 0}
"""

# KEYS: calls, month, gate. ARGV: outcome, log_window_ms, threshold, cooldown_ms,
# max_cooldown_ms, pause_ms (0 = none), gate_ttl_s, member ('' = none), and for a 429 with
# no pause given: backoff base_ms (0 = none), cap_ms, factor (the jitter, in [0, 1]): the
# pause is then min(cap, base * 2^(strikes - 1)) * factor, from the strike counted here.
# Returns the state after the outcome.
REPORT_RULE_LUA = """
if ARGV[8] ~= '' and redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[8]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
local outcome = ARGV[1]
local pause = tonumber(ARGV[6])
if outcome == 'success' then
  redis.call('HSET', KEYS[3], 'failures', 0, 'strikes', 0)
  redis.call('HDEL', KEYS[3], 'open_until', 'probe_until', 'cooldown')
elseif outcome == 'failure' then
  local failures = redis.call('HINCRBY', KEYS[3], 'failures', 1)
  local open_until = tonumber(redis.call('HGET', KEYS[3], 'open_until') or '0')
  local cooldown = nil
  if open_until > 0 then
    local last = tonumber(redis.call('HGET', KEYS[3], 'cooldown') or ARGV[4])
    cooldown = math.min(tonumber(ARGV[5]), 2 * last)
  elseif failures >= tonumber(ARGV[3]) then
    cooldown = tonumber(ARGV[4])
  end
  if cooldown then
    redis.call('HSET', KEYS[3], 'open_until', now + cooldown, 'cooldown', cooldown,
               'probe_until', 0)
  end
elseif outcome == 'rate_limited' then
  local strikes = redis.call('HINCRBY', KEYS[3], 'strikes', 1)
  local base = tonumber(ARGV[9])
  if pause == 0 and base > 0 then
    local delay = math.min(tonumber(ARGV[10]), base * 2 ^ math.min(strikes - 1, 30))
    pause = math.floor(delay * tonumber(ARGV[11]))
  end
end
if pause > 0 then
  local current = tonumber(redis.call('HGET', KEYS[3], 'paused_until') or '0')
  if now + pause > current then redis.call('HSET', KEYS[3], 'paused_until', now + pause) end
end
redis.call('EXPIRE', KEYS[3], ARGV[7])
return state(tonumber(ARGV[2]))
"""

STATE_RULE_LUA = "\nreturn state(tonumber(ARGV[1]))\n"


def budget_script(rule: str, clock: str = REDIS_CLOCK_LUA) -> str:
    """One of the budget's scripts: `clock` (which sets `now`), the state reader, `rule`."""
    return clock + _STATE_LUA_FN + rule


class Outcome(StrEnum):
    SUCCESS = "success"  # the host answered (2xx, or a 4xx about our request)
    FAILURE = "failure"  # 5xx, timeout, broken connection, malformed body
    RATE_LIMITED = "rate_limited"  # 429


@dataclass(frozen=True, slots=True)
class StrikeBackoff:
    """The pause after a 429 that names none: `base_s` doubled per strike (the 429s since
    the last answer, every replica's), capped at `cap_s`, times `factor` (the jitter: see
    marketpulse_common.backoff). Computed in the script that counts the strike."""

    base_s: float
    cap_s: float
    factor: float


@dataclass(frozen=True, slots=True)
class GateState:
    calls_window: int
    calls_month: int
    paused_until_ms: int
    open_until_ms: int
    failures: int
    strikes: int
    now_ms: int

    @property
    def circuit(self) -> CircuitState:
        return circuit_state(self.open_until_ms, self.now_ms)

    @classmethod
    def from_reply(cls, reply: list[Any]) -> GateState:
        return cls(*(int(value) for value in reply))


@dataclass(frozen=True, slots=True)
class Admission:
    member: str  # the call's entry in the log, re-stamped when its answer comes
    probe: bool  # the one call a half-open circuit lets through


class CallBudget:
    """Admission to one upstream host, shared by every replica."""

    def __init__(
        self,
        redis: Redis,
        host: str,
        limits: BudgetLimits,
        circuit: CircuitPolicy,
        *,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.host = host
        self.limits = limits
        self._redis = redis
        self._circuit = circuit
        self._wall = wall
        self._sleep = sleep
        self._acquire = redis.register_script(budget_script(ACQUIRE_RULE_LUA))
        self._report = redis.register_script(budget_script(REPORT_RULE_LUA))
        self._state = redis.register_script(budget_script(STATE_RULE_LUA))

    def _keys(self) -> list[str]:
        month = month_of(self._wall())
        return [
            upstream_calls_key(self.host),
            upstream_month_key(self.host, month),
            upstream_gate_key(self.host),
        ]

    async def try_acquire(self, member: str | None = None) -> tuple[bool, str, float]:
        """One attempt: (admitted, reason, seconds until worth asking again)."""
        args: list[str | int] = [
            self.limits.log_window_ms,
            self.limits.calls_per_window,
            self.limits.monthly_calls or 0,
            member or secrets.token_hex(8),
            MONTH_KEY_TTL_S,
            round(self._circuit.probe_timeout_s * 1000),
        ]
        admitted, reason, wait_ms = await self._acquire(keys=self._keys(), args=args)
        return bool(admitted), str(reason), int(wait_ms) / 1000

    async def acquire(self, max_wait_s: float) -> Admission:
        """Wait for a call slot for up to `max_wait_s`; CallRefused when none comes in time
        (at once when the monthly credits are spent, the circuit is open, or a pause
        outlasts the wait)."""
        deadline = time.monotonic() + max_wait_s
        member = secrets.token_hex(8)
        while True:
            admitted, reason, wait_s = await self.try_acquire(member)
            if admitted:
                return Admission(member=member, probe=reason == "probe")
            if reason == "month":
                retry_in = seconds_left_in_month(self._wall())
                raise CallRefused(
                    f"the monthly budget of {self.limits.monthly_calls} calls is spent",
                    retry_in_s=retry_in,
                )
            # An open circuit fails fast: the next scheduled run is the probe, and a job
            # that waited here would only hold its lease for nothing.
            if reason.startswith("circuit") or time.monotonic() + wait_s > deadline:
                raise CallRefused(_refusal_text(reason, wait_s), retry_in_s=wait_s)
            await self._sleep(wait_s + WAKE_SLACK_S)

    async def report(
        self,
        outcome: Outcome,
        *,
        pause_s: float = 0.0,
        admission: Admission | None = None,
        backoff: StrikeBackoff | None = None,
    ) -> GateState:
        """Record how a call went (and pause every replica for `pause_s`, or by `backoff` for
        a 429 that gave no pause); the new state.

        The call's log entry (`admission`) is re-stamped with the time its answer came: the
        upstream received it somewhere between admission and answer, so from then on the log
        never places it earlier than the upstream did, however long the request took to
        leave (a cold connection, a busy event loop)."""
        args: list[str | int | float] = [
            outcome.value,
            self.limits.log_window_ms,
            self._circuit.threshold,
            round(self._circuit.cooldown_s * 1000),
            round(self._circuit.max_cooldown_s * 1000),
            max(0, round(pause_s * 1000)),
            GATE_TTL_S,
            "" if admission is None else admission.member,
            0 if backoff is None else round(backoff.base_s * 1000),
            0 if backoff is None else round(backoff.cap_s * 1000),
            1 if backoff is None else min(max(backoff.factor, 0.0), 1.0),
        ]
        return GateState.from_reply(await self._report(keys=self._keys(), args=args))

    async def state(self) -> GateState:
        return GateState.from_reply(
            await self._state(keys=self._keys(), args=[self.limits.log_window_ms])
        )


def _refusal_text(reason: str, wait_s: float) -> str:
    what = {
        "paused": "upstream asked every replica to pause (429)",
        "circuit_open": "circuit open after repeated upstream failures",
        "circuit_probe": "circuit half-open; another call is probing the upstream",
        "window": "per-minute call ceiling reached",
    }.get(reason, reason)
    return f"{what}; next call possible in {wait_s:.1f} s"
