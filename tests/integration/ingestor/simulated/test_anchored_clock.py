"""The simulated market clock shared through Redis by replicas and restarts."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import sim_clock_key
from marketpulse_ingestor.simulated.anchored_clock import AnchoredClock
from marketpulse_ingestor.simulated.clock import ClockAnchor

pytestmark = pytest.mark.redis


class FakeWall:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_replicas_starting_together_share_one_anchor(private_redis: Redis) -> None:
    """Concurrent first starts (SET NX under WATCH) end with every replica on one anchor."""
    walls = [FakeWall(1_000_000.0 + i) for i in range(5)]
    clocks = [AnchoredClock(private_redis, 60, wall=wall) for wall in walls]
    anchors = await asyncio.gather(*(clock.start() for clock in clocks))
    stored = ClockAnchor.model_validate_json(await private_redis.get(sim_clock_key()))
    assert all(anchor == stored for anchor in anchors)


async def test_a_restart_continues_the_same_market_time(private_redis: Redis) -> None:
    """A new instance at the same speed joins the stored clock: market time keeps running."""
    wall = FakeWall(1_000_000.0)
    first = AnchoredClock(private_redis, 60, wall=wall)
    await first.start()
    wall.now += 10
    restarted = AnchoredClock(private_redis, 60, wall=wall)
    anchor = await restarted.start()
    assert anchor.wall_anchor == 1_000_000.0
    assert await restarted.now() == 1_000_000 + 600


async def test_a_new_speed_reanchors_and_running_replicas_follow(private_redis: Redis) -> None:
    """A start with another speed re-anchors continuously; a running clock follows it."""
    wall = FakeWall(1_000_000.0)
    running = AnchoredClock(private_redis, 60, wall=wall)
    await running.start()
    wall.now += 10  # market time 1_000_600
    await AnchoredClock(private_redis, 1, wall=wall).start()
    assert await running.now() == 1_000_600
    wall.now += 10
    assert await running.now() == 1_000_610  # now at speed 1, not 60
    assert running.anchor.origin == 1_000_000


async def test_a_lost_anchor_is_restored_by_a_running_replica(private_redis: Redis) -> None:
    """If Redis loses the anchor, the next reading puts back the one the replica ran on."""
    wall = FakeWall(1_000_000.0)
    clock = AnchoredClock(private_redis, 60, wall=wall)
    anchor = await clock.start()
    await private_redis.delete(sim_clock_key())
    wall.now += 1
    assert await clock.now() == 1_000_060
    assert ClockAnchor.model_validate_json(await private_redis.get(sim_clock_key())) == anchor


async def test_a_malformed_anchor_is_replaced_at_start(private_redis: Redis) -> None:
    """Junk under the clock key is replaced by a fresh anchor instead of crashing the start."""
    await private_redis.set(sim_clock_key(), "{not json")
    anchor = await AnchoredClock(private_redis, 60, wall=FakeWall(5_000_000.0)).start()
    assert anchor.market_anchor == 5_000_000.0
    assert ClockAnchor.model_validate_json(await private_redis.get(sim_clock_key())) == anchor
