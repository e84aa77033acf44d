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
from marketpulse_compute.ledger import Ledger
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


async def test_the_lean_cached_ledger_reads_what_a_full_read_reads(
    redis: Redis, unique: str
) -> None:
    """Read, record more, read again: the same entries and newest forecast as a fresh store
    and as the full records."""
    store = ForecastStore(redis)
    records = forecasts(unique)
    await store.record(unique, TF, records[:100])
    first = await store.ledger(unique, TF, as_of=records[99].origin)
    assert first == Ledger.of(records[:100], as_of=records[99].origin)
    await store.record(unique, TF, records[100:])
    as_of = records[110].origin  # newer forecasts exist: `newest` is the one at as_of
    again = await store.ledger(unique, TF, as_of=as_of)
    assert again == await ForecastStore(redis).ledger(unique, TF, as_of=as_of)
    assert again == Ledger.of(records, as_of=as_of)


async def test_a_cached_record_is_not_read_again(redis: Redis, unique: str) -> None:
    """Once parsed, a candle's record comes from the process: overwriting it behind the
    store's back (which the ledger never does) goes unnoticed by it, not by a fresh store."""
    store = ForecastStore(redis)
    records = forecasts(unique)[:20]
    await store.record(unique, TF, records)
    as_of = records[-1].origin
    await store.ledger(unique, TF, as_of)
    await redis.hset(forecasts_key(unique, TF), str(records[0].origin), "{not json")
    assert (await store.ledger(unique, TF, as_of)).entries == Ledger.of(records).entries
    fresh = await ForecastStore(redis).ledger(unique, TF, as_of)
    assert fresh.entries == Ledger.of(records[1:]).entries


async def test_a_recreated_ledger_is_read_anew(redis: Redis, unique: str) -> None:
    """The ledger expires and is recorded again with other forecasts for the same candles:
    a store that had cached the old ones reads the new ones."""
    store = ForecastStore(redis)
    old = forecasts(unique)[:20]
    await store.record(unique, TF, old)
    as_of = old[-1].origin
    assert (await store.ledger(unique, TF, as_of)).entries == Ledger.of(old).entries
    await redis.delete(forecasts_key(unique, TF))
    new = forecasts(unique, source="backtest", seed=2)[:20]
    await store.record(unique, TF, new)
    assert await store.ledger(unique, TF, as_of) == Ledger.of(new, as_of=as_of)


async def test_a_full_ledger_refuses_candles_older_than_its_oldest(
    redis: Redis, unique: str
) -> None:
    """Retention would drop them at once, and re-writing a dropped candle would change a
    field readers cached: nothing older than the oldest kept entry is written."""
    store = ForecastStore(redis, retention=40)
    records = forecasts(unique)
    await store.record(unique, TF, records[60:100])  # exactly full
    written, stored = await store.record(unique, TF, [records[59]])
    assert (written, stored) == (0, None)
    written, _ = await store.record(unique, TF, [records[100]])
    assert written == 1
