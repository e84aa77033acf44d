"""What compute does with one candle event: the cached history ending at that candle →
indicators, a recorded forecast, and an evaluation.

Idempotent by construction: indicators, forecast and evaluation are published with ver =
the candle's open time, so a redelivered event stores nothing new and an event older than
a stored result never replaces it; the forecast ledger is written once per candle. Each
result is checked (`Progress`) before anything is computed, so a replay costs a few reads.
Raising leaves the entry pending for the consumer to retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from redis.asyncio import Redis

from marketpulse_common.consumer import StreamMessage
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Publisher
from marketpulse_common.tracing import span_from_entry
from marketpulse_compute.candle_cache import read_window
from marketpulse_compute.candle_event import CandleEvent, parse_candle_event
from marketpulse_compute.errors import WindowNotReady
from marketpulse_compute.forecast_store import RECORD_RETENTION
from marketpulse_compute.forecasting import SOURCE, Forecasting, ForecastingConfig
from marketpulse_compute.indicator_set import IndicatorParams
from marketpulse_compute.metrics import FORECAST_LAG, INDICATORS_LAG
from marketpulse_compute.progress import read_progress
from marketpulse_compute.window import (
    WINDOW_SIZE,
    Window,
    check_window_size,
    indicators_for_window,
    window_from_members,
)

log = get_logger(__name__)

Clock = Callable[[], datetime]

# Candles read per event: the forecaster trains and backtests on all of them. Twice the
# ingestor's default cache (500), so a deeper MP_HISTORY_DEPTH is used, up to this bound
# on per-event work (1000 candles parse and featurise in a few milliseconds).
HISTORY_SIZE = 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


class CandleHandler:
    def __init__(
        self,
        redis: Redis,
        *,
        params: IndicatorParams | None = None,
        forecasting: ForecastingConfig | None = None,
        window_size: int = WINDOW_SIZE,
        history_size: int = HISTORY_SIZE,
        clock: Clock = utc_now,
    ) -> None:
        self._params = params or IndicatorParams()
        check_window_size(self._params, window_size)
        if not window_size <= history_size <= RECORD_RETENTION:
            raise ValueError(
                f"history_size must lie between the window ({window_size}) and the forecast "
                f"retention ({RECORD_RETENTION}), got {history_size}"
            )
        self._redis = redis
        self._publisher = Publisher(redis, source=SOURCE)
        self._forecasting = Forecasting(redis, clock, forecasting)
        self._window_size = window_size
        self._history_size = history_size
        self._clock = clock

    async def __call__(self, msg: StreamMessage) -> None:
        event = parse_candle_event(msg.stream, msg.fields)
        with span_from_entry(
            event.trace, "compute candle", asset=event.asset, tf=event.tf.value, t=event.candle.t
        ):
            await self._handle(event)

    async def _handle(self, event: CandleEvent) -> None:
        t = event.candle.t
        progress = await read_progress(self._redis, event.asset, event.tf, t)
        if progress.complete:
            # Replays (a restart, a reclaimed entry) cost a few reads instead of a computation.
            log.debug("candle already handled", asset=event.asset, tf=event.tf.value, t=t)
            return
        loaded = await self._load_history(event)
        if loaded is None:
            return
        history, superseded = loaded
        if not progress.indicators:
            await self._publish_indicators(event, history)
        if not progress.forecasting_done:
            cols = history.columns()
            published = await self._forecasting.handle(
                event.asset, event.tf, cols, progress, superseded=superseded
            )
            if published and event.stored_at:
                FORECAST_LAG.observe(max(0.0, time.time() - event.stored_at))

    async def _publish_indicators(self, event: CandleEvent, history: Window) -> None:
        window = Window(history.tf, history.candles[-self._window_size :])
        indicators = indicators_for_window(event.asset, window, self._params, self._clock())
        target = Channel(ChannelKind.INDICATORS, event.asset, event.tf)
        published = await self._publisher.publish(target, indicators, ver=event.candle.t)
        if published is not None and event.stored_at:
            INDICATORS_LAG.observe(max(0.0, time.time() - event.stored_at))
        log.debug(
            "indicators computed",
            channel=target.name,
            t=event.candle.t,
            stored=published is not None,
        )

    async def _load_history(self, event: CandleEvent) -> tuple[Window, bool] | None:
        """The cached candles ending at the event's, and whether newer candles are cached;
        None when that candle can never come."""
        t = event.candle.t
        cached = await read_window(self._redis, event.asset, event.tf, t, self._history_size)
        history = window_from_members(event.tf, cached.members)
        last = history.last
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
        return history, cached.newer > 0
