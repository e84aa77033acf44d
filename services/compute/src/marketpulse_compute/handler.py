"""What compute does with one candle event: the window ending at that candle → Indicators.

Idempotent by construction: the result is published with ver = the window's last open time,
so a redelivered event (same window) stores nothing new, and an event older than the stored
result never replaces it. Raising leaves the entry pending for the consumer to retry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from redis.asyncio import Redis

from marketpulse_common.consumer import StreamMessage
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Publisher
from marketpulse_compute.candle_cache import read_window
from marketpulse_compute.candle_event import CandleEvent, parse_candle_event
from marketpulse_compute.errors import WindowNotReady
from marketpulse_compute.indicator_set import IndicatorParams
from marketpulse_compute.window import (
    WINDOW_SIZE,
    Window,
    check_window_size,
    indicators_for_window,
    window_from_members,
)

log = get_logger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class IndicatorHandler:
    def __init__(
        self,
        redis: Redis,
        *,
        params: IndicatorParams | None = None,
        window_size: int = WINDOW_SIZE,
        clock: Clock = utc_now,
    ) -> None:
        self._params = params or IndicatorParams()
        check_window_size(self._params, window_size)
        self._redis = redis
        self._publisher = Publisher(redis)
        self._window_size = window_size
        self._clock = clock

    async def __call__(self, msg: StreamMessage) -> None:
        event = parse_candle_event(msg.stream, msg.fields)
        target = Channel(ChannelKind.INDICATORS, event.asset, event.tf)
        if await self._stored_version(target) >= event.candle.t:
            # Replays (a restart, a reclaimed entry) cost one read instead of a computation.
            log.debug("indicators already current", channel=target.name, t=event.candle.t)
            return
        window = await self._load_window(event)
        if window is None:
            return
        indicators = indicators_for_window(event.asset, window, self._params, self._clock())
        published = await self._publisher.publish(target, indicators, ver=event.candle.t)
        log.debug(
            "indicators computed",
            channel=target.name,
            t=event.candle.t,
            stored=published is not None,
        )

    async def _load_window(self, event: CandleEvent) -> Window | None:
        """The cached window ending at the event's candle; None when it can never exist."""
        t = event.candle.t
        cached = await read_window(self._redis, event.asset, event.tf, t, self._window_size)
        window = window_from_members(event.tf, cached.members)
        last = window.last
        if last is None or last.t != t:
            if cached.newer:
                # Trimmed from the cache or never stored, and newer candles have their own
                # events: nothing to wait for, and nothing a person needs to see.
                log.warning("candle not cached and superseded; skipped", asset=event.asset, t=t)
                return None
            raise WindowNotReady(f"candle {event.asset}/{event.tf} t={t} is not cached yet")
        if last != event.candle:
            # The cache is the single source of truth; the event only says where to look.
            log.warning("event candle differs from the cache; using the cache", t=t)
        return window

    async def _stored_version(self, channel: Channel) -> int:
        # `ver` is the publisher's ordering field in the snapshot hash (see publisher.py).
        stored = await self._redis.hget(channel.snapshot_key, "ver")
        return int(stored) if stored else -1
