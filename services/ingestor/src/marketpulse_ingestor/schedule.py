"""Scheduled jobs that run on exactly one replica, and stop without cutting a run in half.

Every replica schedules every job (APScheduler 3, AsyncIOScheduler); each run first takes
the job's Redis lease and skips when another replica holds it. The holder renews the lease
on every run, so a job stays on one replica while it lives and moves to another within one
lease TTL after it dies.

APScheduler cancels running coroutine jobs on shutdown, so stopping is done here: pause the
scheduler, let the runs in flight finish (bounded), then shut it down and hand the leases
back so a surviving replica takes over at once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.lease import Lease
from marketpulse_common.logs import get_logger
from marketpulse_ingestor.errors import SourceError

log = get_logger(__name__)

JobBody = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    interval_s: float
    # How long a dead holder keeps the job: a few intervals, so one slow run or one lost
    # Redis reply does not hand it over, but a crashed replica is replaced quickly.
    lease_ttl_s: float
    jitter_s: float = 0.0


class LeasedScheduler:
    def __init__(self, redis: Redis, owner: str) -> None:
        self._redis = redis
        self._owner = owner
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._leases: list[Lease] = []
        self._in_flight: set[asyncio.Task[object]] = set()
        self._closing = False
        # Runs done by this replica while holding the lease, per job (for status and tests).
        self.runs: Counter[str] = Counter()

    def add(self, spec: JobSpec, body: JobBody) -> None:
        lease = Lease(
            self._redis, f"ingestor:{spec.name}", self._owner, int(spec.lease_ttl_s * 1000)
        )
        self._leases.append(lease)
        self._scheduler.add_job(
            self._run,
            trigger="interval",
            args=[spec, lease, body],
            id=spec.name,
            name=spec.name,
            seconds=spec.interval_s,
            jitter=spec.jitter_s or None,
            next_run_time=datetime.now(UTC),
            # A run delayed by a busy loop still runs (once, coalesced) rather than vanishing.
            misfire_grace_time=max(1, int(spec.interval_s)),
        )

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self, drain_timeout: float) -> None:
        """Stop scheduling, wait up to `drain_timeout` for runs in flight, release leases."""
        self._closing = True
        if self._scheduler.running:
            self._scheduler.pause()
            if self._in_flight:
                log.info("waiting for running jobs", jobs=len(self._in_flight))
                _done, late = await asyncio.wait(self._in_flight, timeout=drain_timeout)
                if late:
                    log.warning("jobs still running at shutdown were cancelled", jobs=len(late))
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop iteration
        for lease in self._leases:
            try:
                await lease.release()
            except RedisError as e:
                log.warning(
                    "could not release a lease; it will expire", job=lease.job, error=str(e)
                )

    async def _run(self, spec: JobSpec, lease: Lease, body: JobBody) -> None:
        if self._closing:
            return  # submitted just before the pause: the stop has already been asked for
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            if await lease.acquire() is None:
                return
            self.runs[spec.name] += 1
            await body()
        except (RedisError, SourceError) as e:
            log.warning("job failed; will retry on schedule", job=spec.name, error=str(e))
        except Exception:
            log.exception("job crashed; will retry on schedule", job=spec.name)
        finally:
            self._in_flight.discard(task)
