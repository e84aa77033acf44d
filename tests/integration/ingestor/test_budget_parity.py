"""The shared call budget's Lua scripts decide exactly as budget.py's pure rules, on any input.

budget.py states the rules (the sliding window, the circuit's states) and is property-tested
without Redis; budget_store.py runs them as Lua inside Redis. Here both see the same
generated logs, gates and clocks and must agree on every decision. The scripts run as
production builds them, except that `now` comes from the test (the last ARGV) instead of
Redis's TIME, so a generated clock can sit exactly on a window's edge.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from marketpulse_common.keys import upstream_calls_key, upstream_gate_key, upstream_month_key
from marketpulse_ingestor.budget import circuit_state, decide
from marketpulse_ingestor.budget_store import (
    ACQUIRE_RULE_LUA,
    STATE_RULE_LUA,
    GateState,
    budget_script,
)

pytestmark = pytest.mark.redis

FIXED_CLOCK_LUA = "local now = tonumber(ARGV[#ARGV])\n"
NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NO_MONTHLY_LIMIT = 0
MONTH_TTL_S = 3600
PROBE_TIMEOUT_MS = 5000
# Windows of at least 10 s: the calls key's PEXPIRE runs on Redis's real clock and must not
# empty the log while an example runs.
windows = st.integers(10_000, 120_000)
PARITY = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Scripts:
    def __init__(self, redis: Redis, host: str) -> None:
        self.redis = redis
        self.keys = [
            upstream_calls_key(host),
            upstream_month_key(host, "2026-01"),
            upstream_gate_key(host),
        ]
        self._acquire = redis.register_script(budget_script(ACQUIRE_RULE_LUA, FIXED_CLOCK_LUA))
        self._state = redis.register_script(budget_script(STATE_RULE_LUA, FIXED_CLOCK_LUA))

    async def reset(self, log: dict[str, int], gate: dict[str, int]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*self.keys)
            if log:
                pipe.zadd(self.keys[0], log)  # type: ignore[arg-type]
            if gate:
                pipe.hset(self.keys[2], mapping=gate)  # type: ignore[arg-type]
            await pipe.execute()

    async def acquire(self, member: str, limit: int, window_ms: int, now: int) -> tuple[Any, ...]:
        args = [window_ms, limit, NO_MONTHLY_LIMIT, member, MONTH_TTL_S, PROBE_TIMEOUT_MS, now]
        admitted, reason, wait_ms = await self._acquire(keys=self.keys, args=args)
        return bool(admitted), str(reason), int(wait_ms)

    async def state(self, window_ms: int, now: int) -> GateState:
        return GateState.from_reply(await self._state(keys=self.keys, args=[window_ms, now]))


@pytest.fixture
def scripts(redis: Redis, unique: str) -> Scripts:
    return Scripts(redis, unique)


@PARITY
@given(data=st.data(), limit=st.integers(1, 6), window_ms=windows)
async def test_the_window_admits_and_waits_as_decide_says(
    scripts: Scripts, data: st.DataObject, limit: int, window_ms: int
) -> None:
    """A logged past (any size, even past the limit), then calls at rising times: the script
    admits exactly when decide() says 0, else names decide()'s wait."""
    near_edge = st.integers(-window_ms - 2, -window_ms + 2)
    anywhere = st.integers(-2 * window_ms, 2_000)
    offsets = data.draw(st.lists(st.one_of(near_edge, anywhere), max_size=10), label="log")
    steps = data.draw(st.lists(st.integers(0, window_ms // 3), min_size=1, max_size=12))
    log = [NOW_MS + offset for offset in offsets]
    await scripts.reset({f"seed{i}": t for i, t in enumerate(log)}, {})
    now = NOW_MS
    for i, step in enumerate(steps):
        now += step
        wait = decide(log, now, limit, window_ms)
        expected = (True, "ok", 0) if wait == 0 else (False, "window", wait)
        assert await scripts.acquire(f"call{i}", limit, window_ms, now) == expected
        if wait == 0:
            log.append(now)
        assert (await scripts.state(window_ms, now)).calls_window == sum(
            t > now - window_ms for t in log
        )


gate_times = st.one_of(
    st.just(0),
    st.integers(NOW_MS - 2, NOW_MS + 2),  # on the edge of open and half-open
    st.integers(NOW_MS - 10_000, NOW_MS + 10_000),
)


@PARITY
@given(open_until=gate_times, probe_until=gate_times, window_ms=windows)
async def test_the_gate_follows_the_circuit_states(
    scripts: Scripts, open_until: int, probe_until: int, window_ms: int
) -> None:
    """open: refused until open_until; half-open: one probe, the others refused while it
    runs; closed: admitted. The state the script reads back names the same circuit."""
    await scripts.reset({}, {"open_until": open_until, "probe_until": probe_until})
    circuit = circuit_state(open_until, NOW_MS)
    assert (await scripts.state(window_ms, NOW_MS)).circuit == circuit
    decision = await scripts.acquire("call", 10, window_ms, NOW_MS)
    if circuit == "open":
        assert decision == (False, "circuit_open", open_until - NOW_MS)
    elif circuit == "half_open" and probe_until > NOW_MS:
        assert decision == (False, "circuit_probe", probe_until - NOW_MS)
    elif circuit == "half_open":
        assert decision == (True, "probe", 0)
        following = await scripts.acquire("next", 10, window_ms, NOW_MS)
        assert following == (False, "circuit_probe", PROBE_TIMEOUT_MS)
    else:
        assert decision == (True, "ok", 0)
