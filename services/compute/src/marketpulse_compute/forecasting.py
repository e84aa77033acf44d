"""What compute does for forecasts when a candle closes: record, publish, evaluate.

The thin shell around the pure core (forecaster, forecast_record, evaluation):
1. record: the live forecast at the candle, plus a walk-forward backtest of every earlier
   cached candle that has no recorded forecast yet (all of them on the first window, the
   gaps after an outage later), written once per candle (forecast_store). A candle handled
   only after later ones were cached (a backlog) gets a backtest instead of a live forecast:
   its outcome may be known by then, and the live scorecard counts only forecasts that
   were made before it;
2. publish the recorded forecast on `forecast:{asset}:{tf}` with ver = the candle's time;
3. evaluate every recorded forecast against the cached candles and publish the result on
   `evaluation:{asset}:{tf}`, exporting drift as it goes.
Each step is skipped when `Progress` says it is done, so a redelivery repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import DriftStatus, Evaluation, Forecast
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Publisher, read_snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute import drift_monitor
from marketpulse_compute.evaluation import EvaluationConfig, evaluate
from marketpulse_compute.forecast_record import RecordContext, forecast_record
from marketpulse_compute.forecast_store import ForecastStore
from marketpulse_compute.forecaster import ForecastConfig, live_forecast, prepare, walk_forward
from marketpulse_compute.progress import Progress
from marketpulse_compute.window import Columns

# What the gateway shows as meta.source for every value compute derives.
SOURCE = "compute"

log = get_logger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ForecastingConfig:
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)


class Forecasting:
    def __init__(self, redis: Redis, clock: Clock, config: ForecastingConfig | None = None) -> None:
        self._redis = redis
        self._clock = clock
        self._config = config or ForecastingConfig()
        self._store = ForecastStore(redis)
        self._publisher = Publisher(redis, source=SOURCE)

    async def handle(
        self,
        asset: str,
        tf: Timeframe,
        cols: Columns,
        progress: Progress,
        *,
        superseded: bool = False,
    ) -> bool:
        """Do whatever `progress` says is missing for the history's newest candle (not the
        newest cached if `superseded`); True when its forecast was published now."""
        t = int(cols.open_time[-1])
        stored = None
        if not progress.forecast_recorded:
            stored = await self.record(asset, tf, cols, superseded=superseded)
        elif not progress.forecast_published:
            stored = await self._store.get(asset, tf, t)
        published = None
        if stored is not None and not progress.forecast_published:
            channel = Channel(ChannelKind.FORECAST, asset, tf)
            published = await self._publisher.publish(channel, stored, ver=t)
        if not progress.evaluation:
            await self.publish_evaluation(asset, tf, cols)
        return published is not None

    async def record(
        self, asset: str, tf: Timeframe, cols: Columns, *, superseded: bool = False
    ) -> Forecast | None:
        """Record the live forecast (a backtest one if `superseded`) and any missing backtest
        ones; what is stored for `t`."""
        config = self._config.forecast
        history = prepare(cols, tf.seconds, config)
        live = live_forecast(history, config)
        if live is None:
            log.debug("too little history to forecast", asset=asset, tf=tf.value, n=history.size)
            return None
        context = RecordContext(
            asset, tf, config, config.model_version(history.features.keys), self._clock()
        )
        known = await self._store.origins(asset, tf)
        times = cols.open_time.tolist()
        missing = [j for j in range(history.size - 1) if times[j] not in known]
        backtest = walk_forward(history, missing, config)
        records = [forecast_record(history, p, context, "backtest") for p in backtest]
        records.append(
            forecast_record(history, live, context, "backtest" if superseded else "live")
        )
        written, stored = await self._store.record(asset, tf, records)
        log.debug("forecasts recorded", asset=asset, tf=tf.value, t=times[-1], written=written)
        return stored

    async def publish_evaluation(self, asset: str, tf: Timeframe, cols: Columns) -> Evaluation:
        config = self._config
        ledger = await self._store.ledger(asset, tf, as_of=int(cols.open_time[-1]))
        evaluation = evaluate(
            asset, tf, ledger, cols, config.forecast, config.evaluation, self._clock()
        )
        channel = Channel(ChannelKind.EVALUATION, asset, tf)
        previous = await _stored_drift_status(self._redis, channel)
        published = await self._publisher.publish(channel, evaluation, ver=evaluation.as_of)
        if published is not None:
            drift_monitor.observe(evaluation, previous)
        return evaluation


async def _stored_drift_status(redis: Redis, channel: Channel) -> DriftStatus | None:
    snapshot = await read_snapshot(redis, channel)
    if snapshot is None:
        return None
    try:
        value = snapshot.decode()
    except PoisonMessage:
        return None  # an older schema's snapshot: this evaluation replaces it all the same
    return value.drift.status if isinstance(value, Evaluation) else None
