"""Scheduled jobs that run on exactly one replica, and stop without cutting a run in half.

Every replica schedules every job (APScheduler 3, AsyncIOScheduler); each run first takes
the job's Redis lease and skips when another replica holds it. The holder renews the lease
on every run (and every third of a TTL while a long run lasts), so a job stays on one replica
while it lives and moves to another within one lease TTL after it dies. A run that loses the
lease all the same (a stall past the TTL, and another replica took it) is cancelled.

A job with a `phase_s` runs on a grid shared by every replica: at epoch multiples of its
interval plus the phase (a candle job just after each close). Replicas started at different
times then fire together; the lease lets one of them run, and the slot it claims
(`keys.job_slot_key`) stops a replica whose scheduler woke late from running it again.

APScheduler cancels running coroutine jobs on shutdown, so stopping is done here: pause the
scheduler, let the runs in flight finish (bounded), then shut it down and hand the leases
back so a surviving replica takes over at once.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.keys import job_slot_key
from marketpulse_common.lease import Lease
from marketpulse_common.logs import describe, get_logger
from marketpulse_ingestor.errors import CallRefused, SourceError

log = get_logger(__name__)

JobBody = Callable[[], Awaitable[None]]

# Claim slot ARGV[1] of a grid job unless it (or a later one) was claimed already.
_CLAIM_SLOT_LUA = """
local claimed = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= claimed then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    interval_s: float
    # How long a dead holder keeps the job. Free-running jobs: a few intervals, so one slow
    # run or one lost Redis reply does not hand it over, but a crashed replica is replaced
    # quickly. Grid jobs: longer than the jitter between replicas firing the same slot,
    # shorter than the interval.
    lease_ttl_s: float
    jitter_s: float = 0.0
    # When set, runs fall on the shared grid `k * interval_s + phase_s` (epoch seconds).
    phase_s: float | None = None


def grid_start(interval_s: float, phase_s: float, now: float) -> float:
    """The first grid point `k * interval_s + phase_s` at or after `now`."""
    return math.ceil((now - phase_s) / interval_s) * interval_s + phase_s


def grid_slot(interval_s: float, phase_s: float, now: float) -> int:
    """The slot a run at `now` belongs to: the nearest grid point, so a run late (or a
    replica's clock off) by less than half an interval still counts for its own slot."""
    return round((now - phase_s) / interval_s)


async def run_holding(lease: Lease, ttl_s: float, body: JobBody) -> None:
    """Run `body` while renewing `lease` every third of its TTL, so a run that outlasts the
    TTL (waiting for upstream budget, say) is not joined by a second replica. When the lease
    is lost all the same (it expired while Redis or this loop stalled, and another replica
    took it), the body is cancelled (and logged): the job never runs on two replicas at once.
    The body's own error is raised."""

    async def lost() -> None:
        while True:
            await asyncio.sleep(ttl_s / 3)
            try:
                if await lease.acquire() is None:
                    return
            except RedisError as e:
                log.warning("could not renew a job lease", job=lease.job, error=describe(e))

    work = asyncio.ensure_future(body())
    keeper = asyncio.create_task(lost())
    try:
        await asyncio.wait((work, keeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        keeper.cancel()
        if not work.done():
            work.cancel()
        await asyncio.gather(keeper, work, return_exceptions=True)
    if work.cancelled():
        log.warning("lost a job lease while running; the run was stopped", job=lease.job)
        return
    work.result()  # the body's own error, for the caller


class LeasedScheduler:
    def __init__(self, redis: Redis, owner: str) -> None:
        self._redis = redis
        self._owner = owner
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._leases: list[Lease] = []
        self._claim_slot = redis.register_script(_CLAIM_SLOT_LUA)
        self._in_flight: set[asyncio.Task[object]] = set()
        self._closing = False
        # Runs done by this replica while holding the lease, per job (for status and tests).
        self.runs: Counter[str] = Counter()

    def add(self, spec: JobSpec, body: JobBody) -> None:
        lease = self._lease(spec)
        self._leases.append(lease)
        extra: dict[str, object] = {}
        if spec.phase_s is None:
            extra["next_run_time"] = datetime.now(UTC)
        self._scheduler.add_job(
            self._run,
            trigger=_trigger(spec),
            args=[spec, lease, body],
            id=spec.name,
            name=spec.name,
            # A run delayed by a busy loop still runs (once, coalesced) rather than vanishing.
            misfire_grace_time=max(1, int(spec.interval_s)),
            **extra,
        )

    async def run_once(self, spec: JobSpec, body: JobBody) -> None:
        """One run of the job now, outside its schedule, under the same lease: if another
        replica is running it (or just did), this one does not."""
        await self._run(spec, self._lease(spec), body)

    def start(self) -> None:
        self._scheduler.start()

    @property
    def running(self) -> bool:
        """Whether jobs are being scheduled (started and not yet stopped)."""
        return bool(self._scheduler.running)

    async def _claimed(self, spec: JobSpec) -> bool:
        """Free-running jobs: always. Grid jobs: whether this run's slot was still free."""
        if spec.phase_s is None:
            return True
        slot = grid_slot(spec.interval_s, spec.phase_s, datetime.now(UTC).timestamp())
        ttl_ms = max(1000, round(3 * spec.interval_s * 1000))
        claimed = await self._claim_slot(
            keys=[job_slot_key(f"ingestor:{spec.name}")], args=[slot, ttl_ms]
        )
        return bool(claimed)

    def _lease(self, spec: JobSpec) -> Lease:
        return Lease(
            self._redis, f"ingestor:{spec.name}", self._owner, int(spec.lease_ttl_s * 1000)
        )

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
                    "could not release a lease; it will expire", job=lease.job, error=describe(e)
                )

    async def _run(self, spec: JobSpec, lease: Lease, body: JobBody) -> None:
        if self._closing:
            return  # submitted just before the pause: the stop has already been asked for
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            if await lease.acquire() is None or not await self._claimed(spec):
                return
            self.runs[spec.name] += 1
            await run_holding(lease, spec.lease_ttl_s, body)
        except CallRefused as e:
            # Expected while the upstream is paused or failing; the cause was logged once
            # when it began (and is in the status record).
            log.info(
                "job skipped; no upstream call possible now", job=spec.name, reason=describe(e)
            )
        except (RedisError, SourceError) as e:
            log.warning("job failed; will retry on schedule", job=spec.name, error=describe(e))
        except Exception:
            log.exception("job crashed; will retry on schedule", job=spec.name)
        finally:
            self._in_flight.discard(task)


def _trigger(spec: JobSpec) -> IntervalTrigger:
    start = None
    if spec.phase_s is not None:
        now = datetime.now(UTC).timestamp()
        start = datetime.fromtimestamp(grid_start(spec.interval_s, spec.phase_s, now), UTC)
    return IntervalTrigger(
        seconds=spec.interval_s, start_date=start, jitter=spec.jitter_s or None, timezone=UTC
    )
