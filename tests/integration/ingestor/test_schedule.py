"""The leased scheduler: a run holds its job's lease for as long as it lasts, and stops when
another replica has taken the lease from it."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import lease_key
from marketpulse_common.lease import Lease
from marketpulse_ingestor.schedule import JobSpec, LeasedScheduler

pytestmark = pytest.mark.redis

TTL_S = 0.3  # renewed every 0.1 s


def spec(unique: str) -> JobSpec:
    return JobSpec(name=f"job-{unique}", interval_s=60, lease_ttl_s=TTL_S)


async def test_a_run_that_outlasts_its_ttl_keeps_the_lease(redis: Redis, unique: str) -> None:
    """Another replica cannot take the job while a long run lasts, however many TTLs."""
    job = spec(unique)
    other = Lease(redis, f"ingestor:{job.name}", "other-replica", int(TTL_S * 1000))
    refused: list[bool] = []

    async def long_run() -> None:
        for _ in range(10):  # 1 s, over three TTLs
            await asyncio.sleep(0.1)
            refused.append(await other.acquire() is None)

    scheduler = LeasedScheduler(redis, owner="this-replica")
    await asyncio.wait_for(scheduler.run_once(job, long_run), 10)
    assert refused == [True] * 10
    assert scheduler.runs[job.name] == 1


async def test_a_run_stops_when_another_replica_took_its_lease(redis: Redis, unique: str) -> None:
    """Once the lease is lost (expired while Redis or the loop stalled, and taken), the run is
    cancelled rather than carried on beside the new holder's: the job never runs on two
    replicas at once, so their upstream calls are never doubled."""
    job = spec(unique)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def endless() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler = LeasedScheduler(redis, owner="this-replica")
    run = asyncio.create_task(scheduler.run_once(job, endless))
    await asyncio.wait_for(started.wait(), 5)
    await redis.set(lease_key(f"ingestor:{job.name}"), "other-replica", px=60_000)
    await asyncio.wait_for(run, 5)  # the run ends on its own: nothing cancelled it from here
    assert cancelled.is_set()
    assert await redis.get(lease_key(f"ingestor:{job.name}")) == "other-replica"
