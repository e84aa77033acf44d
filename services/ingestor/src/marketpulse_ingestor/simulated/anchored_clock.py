"""The simulated market clock, anchored in Redis so every replica and restart agrees on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import WatchError

from marketpulse_common.keys import sim_clock_key
from marketpulse_common.logs import get_logger
from marketpulse_ingestor.simulated.clock import ClockAnchor, market_time, settled_anchor

log = get_logger(__name__)


def _decode(raw: str | None) -> ClockAnchor | None:
    if raw is None:
        return None
    try:
        return ClockAnchor.model_validate_json(raw)
    except ValidationError:
        log.warning("ignoring a malformed market clock anchor", key=sim_clock_key())
        return None


class AnchoredClock:
    """Market time from the anchor in Redis (see clock.py for the arithmetic)."""

    def __init__(
        self, redis: Redis, speed: float, *, wall: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._speed = speed
        self._wall = wall
        self._anchor: ClockAnchor | None = None

    @property
    def anchor(self) -> ClockAnchor:
        if self._anchor is None:
            raise RuntimeError("the clock has not been started")
        return self._anchor

    async def start(self) -> ClockAnchor:
        """Join the anchored clock, creating it (or re-anchoring it to our speed) atomically."""
        key = sim_clock_key()
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    stored = _decode(cast(str | None, await pipe.get(key)))
                    anchor = settled_anchor(stored, self._wall(), self._speed)
                    pipe.multi()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                    if anchor != stored:
                        pipe.set(key, anchor.model_dump_json())
                    await pipe.execute()
                    break
                except WatchError:
                    continue  # another replica anchored it first: settle against theirs
        if anchor != stored:
            log.info("market clock anchored", speed=anchor.speed, market_time=anchor.market_anchor)
        self._anchor = anchor
        return anchor

    async def now(self) -> int:
        """Market time now per the stored anchor; restores the anchor if Redis lost it."""
        key = sim_clock_key()
        raw = cast(str | None, await self._redis.get(key))
        stored = _decode(raw)
        if stored is None and raw is None:
            # Redis lost the anchor (restart without persistence): put back the one we ran on,
            # unless another replica just did.
            await self._redis.set(key, self.anchor.model_dump_json(), nx=True)
            stored = _decode(cast(str | None, await self._redis.get(key)))
        if stored is not None:
            self._anchor = stored
        return market_time(self.anchor, self._wall())
