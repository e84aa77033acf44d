"""Whether Redis answers right now, kept current by a watch task that PINGs it.

The hot path never touches Redis to serve data, so it cannot notice an outage by itself; it
reads `reachable` here to mark what it serves stale, and the rate limiter and key checks
use it as a circuit breaker: while Redis is down they decide locally instead of making every
request wait for a timeout. Any caller that sees Redis fail reports it at once; only a
successful PING marks Redis reachable again. A command Redis answers but refuses (out of
memory, an ACL) is no outage: it is reported as itself, and the breaker stays closed, or it
would flap open and shut at every request and PING.
"""

from __future__ import annotations

import asyncio
import math
import time

from redis.asyncio import Redis

from marketpulse_common.connection import REDIS_ERRORS, refused_by_redis
from marketpulse_common.logs import describe, get_logger

log = get_logger(__name__)

# Often enough that an outage is marked within a second; a PING costs Redis nothing.
WATCH_INTERVAL_S = 0.5
# A loopback PING answers in well under a millisecond; one that takes this long is an outage
# as far as a reader waiting on it is concerned.
PING_TIMEOUT_S = 0.5
# Commands Redis refuses while it answers (out of memory, an ACL) are logged at most this often.
REFUSED_LOG_S = 60.0


class StoreHealth:
    def __init__(self) -> None:
        # Optimistic until the first PING: a gateway that starts must try Redis to learn.
        self.reachable = True
        self.changed_at = time.monotonic()
        self._refused = 0
        self._refused_logged_at = -math.inf

    def report_failure(self, error: BaseException | None = None) -> None:
        if self.reachable:
            cause = describe(error) if error is not None else None
            log.warning("Redis unreachable; serving last-known-good data", error=cause)
            self.reachable = False
            self.changed_at = time.monotonic()

    def report_error(self, error: BaseException, what: str) -> bool:
        """A caller's Redis call for `what` failed: an outage (`report_failure`), or, when
        Redis answered but refused it, a refusal; True for a refusal."""
        if refused_by_redis(error):
            self._report_refused(error, what)
            return True
        self.report_failure(error)
        return False

    def _report_refused(self, error: BaseException, what: str) -> None:
        """Redis answered but refused `what` (out of memory, an ACL): not an outage, so
        `reachable` stays; logged at most once per REFUSED_LOG_S with the count since."""
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSED_LOG_S:
            log.warning(
                "Redis refused a command; deciding without it",
                command=what,
                error=describe(error),
                refused=self._refused,
            )
            self._refused, self._refused_logged_at = 0, now

    def report_success(self) -> None:
        if not self.reachable:
            log.info("Redis reachable again")
            self.reachable = True
            self.changed_at = time.monotonic()

    async def watch(
        self,
        redis: Redis,
        *,
        interval_s: float = WATCH_INTERVAL_S,
        timeout_s: float = PING_TIMEOUT_S,
    ) -> None:
        """PING until cancelled (by the gateway's lifespan)."""
        while True:
            try:
                async with asyncio.timeout(timeout_s):
                    await redis.ping()
            except (*REDIS_ERRORS, OSError, TimeoutError) as e:
                self.report_failure(e)
            else:
                self.report_success()
            await asyncio.sleep(interval_s)
