"""The rate limiter's two GCRAs agree: the Lua step Redis runs for the shared budget and
gcra.take, which every replica runs while Redis is away, give the same decisions.

Each step of a generated sequence runs both on the same stored TAT and the same `now` (the
test supplies `now` in place of Redis's clock, in front of the production step's text), and
demands the same grant, the same wait, the same stored TAT and an expiry that keeps it
exactly as long as gcra.expiry_ms says.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from marketpulse_common.keys import rate_limit_key
from marketpulse_gateway.access.gcra import GcraPolicy, expiry_ms, take
from marketpulse_gateway.access.rate_limit import GCRA_STEP_LUA

pytestmark = pytest.mark.redis

SECOND = 1_000_000
START_US = 1_700_000_000 * SECOND
STEP_AT_NOW = "local now = tonumber(ARGV[4])\n" + GCRA_STEP_LUA


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[GcraPolicy, int | None, list[tuple[int, int]]]:
    """A policy, the subject's stored TAT relative to the start (None: new subject), and
    steps of (µs since the previous step, tokens wanted)."""
    policy = GcraPolicy.per_minute(
        draw(st.one_of(st.integers(1, 600), st.integers(1, 60_000_000))),
        draw(st.one_of(st.integers(1, 20), st.integers(1, 100_000))),
    )
    tol = policy.tolerance_us
    stored = draw(st.none() | st.integers(-2 * tol, 2 * tol))
    advance = st.one_of(
        st.just(0),
        st.integers(0, 2 * policy.interval_us),
        st.integers(0, 2 * tol),
    )
    steps = draw(st.lists(st.tuples(advance, st.integers(1, 512)), min_size=1, max_size=25))
    return policy, stored, steps


def millis(time_reply: tuple[int, int]) -> int:
    """Redis's clock in whole milliseconds, as its expiries count them, from TIME."""
    seconds, micros = time_reply
    return int(seconds) * 1000 + int(micros) // 1000


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
async def test_lua_and_python_gcra_decide_alike(
    redis: Redis, unique: str, scenario: tuple[GcraPolicy, int | None, list[tuple[int, int]]]
) -> None:
    """On any policy, starting TAT and sequence of requests, both grant and refuse alike."""
    policy, stored_offset, steps = scenario
    key = rate_limit_key(f"parity:{unique}")
    script = redis.register_script(STEP_AT_NOW)
    now = START_US
    stored = None if stored_offset is None else START_US + stored_offset
    for advance, want in steps:
        now += advance
        expected = take(policy, stored, now, want)
        # One transaction: the TAT is seeded without an expiry and read back before Redis's
        # own clock could expire it, so only the script's arithmetic is compared. Redis's
        # clock still moves between the script's SET PX and the PTTL (by milliseconds when
        # the server is descheduled on a loaded machine), so TIME brackets the transaction
        # and the PTTL may fall short of the PX by at most the milliseconds that passed.
        async with redis.pipeline(transaction=True) as pipe:
            pipe.time()
            if stored is None:
                pipe.delete(key)
            else:
                pipe.set(key, str(stored))
            await script(
                keys=[key], args=[policy.interval_us, policy.tolerance_us, want, now], client=pipe
            )
            pipe.get(key)
            pipe.pttl(key)
            pipe.delete(key)
            pipe.time()
            began, _, (granted, retry_us), tat, ttl_ms, _, ended = await pipe.execute()
        elapsed_ms = millis(ended) - millis(began)
        context = f"{policy}, stored {stored}, now {now}, want {want}"
        assert (int(granted), int(retry_us)) == (
            expected.granted,
            0 if expected.granted else expected.retry_after_us,
        ), context
        if expected.granted:
            stored = expected.tat_us
            assert tat == str(stored), context
            expiry = expiry_ms(stored, now)
            assert expiry - elapsed_ms <= ttl_ms <= expiry, f"{context}, {elapsed_ms} ms passed"
        else:
            assert tat == (None if stored is None else str(stored)), context
            assert ttl_ms == (-2 if stored is None else -1), context
