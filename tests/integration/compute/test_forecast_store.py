"""The forecast ledger keeps the first forecast of each candle, bounded and expiring."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Forecast, ForecastSource
from marketpulse_common.keys import forecasts_key
from marketpulse_compute.forecast_record import RecordContext, forecast_record
from marketpulse_compute.forecast_store import RECORD_TTL_S, TRIM_SLACK, ForecastStore
from marketpulse_compute.forecaster import ForecastConfig, prepare, walk_forward
from tests.unit.compute.series import TF, random_walk

pytestmark = pytest.mark.redis

CONFIG = ForecastConfig(train_window=60, min_train=20, l2=10.0, refit_every=1)


def forecasts(asset: str, source: ForecastSource = "live", seed: int = 1) -> list[Forecast]:
    """Real forecasts for candles 70..199 of a random walk."""
    history = prepare(random_walk(200, seed=seed), TF.seconds, CONFIG)
    context = RecordContext(asset, TF, CONFIG, "v", datetime(2024, 1, 1, tzinfo=UTC))
    points = walk_forward(history, range(70, 200), CONFIG)
    return [forecast_record(history, p, context, source) for p in points]


async def test_the_first_forecast_of_a_candle_wins(redis: Redis, unique: str) -> None:
    """A second forecast for a recorded candle is not written; read-back returns the first."""
    store = ForecastStore(redis)
    first = forecasts(unique)[:3]
    written, stored = await store.record(unique, TF, first)
    assert (written, stored) == (3, first[-1])
    rival = forecasts(unique, source="backtest", seed=2)[:3]
    assert rival[-1] != first[-1]
    written, stored = await store.record(unique, TF, rival)
    assert (written, stored) == (0, first[-1])
    assert await store.all(unique, TF) == first
    assert await store.get(unique, TF, first[0].origin) == first[0]
    assert await store.origins(unique, TF) == {f.origin for f in first}


async def test_the_ledger_keeps_only_the_newest_candles(redis: Redis, unique: str) -> None:
    """Past retention + slack the oldest candles go; the newest `retention` stay."""
    store = ForecastStore(redis, retention=40)
    records = forecasts(unique)
    await store.record(unique, TF, records[: 40 + TRIM_SLACK])
    assert len(await store.all(unique, TF)) == 40 + TRIM_SLACK  # within the slack: kept
    await store.record(unique, TF, records[40 + TRIM_SLACK : 40 + TRIM_SLACK + 1])
    kept = await store.all(unique, TF)
    assert [f.origin for f in kept] == [
        f.origin for f in records[TRIM_SLACK + 1 : 40 + TRIM_SLACK + 1]
    ]


async def test_the_ledger_expires_and_an_unreadable_record_is_skipped(
    redis: Redis, unique: str
) -> None:
    """The hash carries a TTL; garbage in it is left out of all() instead of failing."""
    store = ForecastStore(redis)
    good = forecasts(unique)[:1]
    await store.record(unique, TF, good)
    key = forecasts_key(unique, TF)
    assert 0 < await redis.ttl(key) <= RECORD_TTL_S
    await redis.hset(key, "1", "{not json")
    assert await store.all(unique, TF) == good
