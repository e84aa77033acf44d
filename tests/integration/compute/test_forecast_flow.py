"""Candle events in; one recorded forecast per candle, published, and an honest evaluation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketpulse_common.events import Evaluation, encode_payload
from marketpulse_compute.candle_cache import read_window
from marketpulse_compute.evaluation import EvaluationConfig, evaluate
from marketpulse_compute.forecast_store import ForecastStore
from marketpulse_compute.forecaster import ForecastConfig
from marketpulse_compute.handler import HISTORY_SIZE
from marketpulse_compute.ledger import Ledger
from marketpulse_compute.window import window_from_members
from tests.integration.compute.harness import TF, Compute, cache_candles, make_candles

pytestmark = pytest.mark.redis

# Default config: features complete from candle 50, 100 labelled samples → the first
# forecast is at candle (index) 150.
FIRST_FORECASTABLE = 150


async def recompute_evaluation(compute: Compute, as_of: int) -> Evaluation:
    """The evaluation rebuilt from nothing but what is stored: the ledger, read in full
    (not through the service's lean, cached reading), and the candles."""
    records = await ForecastStore(compute.redis).all(compute.asset, TF)
    cached = await read_window(compute.redis, compute.asset, TF, as_of, HISTORY_SIZE)
    cols = window_from_members(TF, cached.members).columns()
    when = datetime(2024, 1, 1, tzinfo=UTC)
    ledger = Ledger.of(records, as_of=as_of)
    return evaluate(compute.asset, TF, ledger, cols, ForecastConfig(), EvaluationConfig(), when)


async def test_the_first_event_backtests_the_history_and_records_a_live_forecast(
    compute: Compute,
) -> None:
    """One event: a backtest forecast for every earlier forecastable candle, a live one for
    the event's candle, the live one published, and an evaluation of the backtest."""
    candles = make_candles(260)
    await cache_candles(compute.redis, compute.asset, candles)
    await compute.announce(candles[-1])
    published = await compute.wait_for_forecast(candles[-1].t)
    ledger = await compute.ledger()
    assert sorted(ledger) == [c.t for c in candles[FIRST_FORECASTABLE:]]
    assert ledger[candles[-1].t] == published
    assert published.source == "live"
    assert {ledger[c.t].source for c in candles[FIRST_FORECASTABLE:-1]} == {"backtest"}
    evaluation = await compute.wait_for_evaluation(candles[-1].t)
    assert evaluation.overall.n == len(ledger) - 1  # all but the unresolved live one
    assert evaluation.live.n == 0
    assert evaluation.model_version == published.model_version


async def test_a_forecast_made_after_later_candles_were_cached_is_not_live(
    compute: Compute,
) -> None:
    """An event handled late (a backlog after an outage): its candle is no longer the newest,
    so its outcome may be known already; its forecast is recorded as a backtest and never
    enters the live scorecard, which promises forecasts made before their outcome."""
    candles = make_candles(260)
    await cache_candles(compute.redis, compute.asset, candles)
    late = candles[-3]
    await compute.announce(late)
    published = await compute.wait_for_forecast(late.t)
    assert published.source == "backtest"
    assert (await compute.ledger())[late.t].source == "backtest"
    assert (await compute.wait_for_evaluation(late.t)).live.n == 0


async def test_the_evaluation_is_reproducible_from_the_ledger_and_the_candles(
    compute: Compute,
) -> None:
    """Recomputing from the stored forecasts and cached candles gives the published numbers."""
    candles = make_candles(300, seed=8)
    await cache_candles(compute.redis, compute.asset, candles[:280])
    await compute.announce(candles[279])
    await compute.wait_for_evaluation(candles[279].t)
    for candle in candles[280:]:  # each handled before the next closes, as live ones are
        await cache_candles(compute.redis, compute.asset, [candle])
        await compute.announce(candle)
        await compute.wait_for_forecast(candle.t)
    published = await compute.wait_for_evaluation(candles[-1].t)
    assert published.live.n == 20  # live from candle 279 on; all but the newest resolved
    again = await recompute_evaluation(compute, candles[-1].t)
    assert again == published.model_copy(update={"computed_at": again.computed_at})


async def test_a_redelivered_event_records_and_publishes_nothing_new(compute: Compute) -> None:
    """Handling the same event twice leaves the ledger and every history as they were."""
    candles = make_candles(200, seed=4)
    await cache_candles(compute.redis, compute.asset, candles)
    first = await compute.announce(candles[-1])
    await compute.wait_for_evaluation(candles[-1].t)
    ledger = await compute.ledger()
    lengths = [
        await compute.redis.xlen(ch.stream_key) for ch in (compute.forecast, compute.evaluation)
    ]
    await compute.add_raw_event(await compute.event_fields(first))
    await compute.wait_until_handled(2)
    assert await compute.ledger() == ledger
    assert [
        await compute.redis.xlen(ch.stream_key) for ch in (compute.forecast, compute.evaluation)
    ] == lengths


async def test_an_older_event_after_a_newer_one_keeps_one_forecast_per_candle(
    compute: Compute,
) -> None:
    """Out of order: the older candle's forecast was already recorded (by the backtest) and
    stays; the published forecast stays the newer one."""
    candles = make_candles(220, seed=5)
    await cache_candles(compute.redis, compute.asset, candles)
    await compute.announce(candles[-1])
    newest = await compute.wait_for_forecast(candles[-1].t)
    ledger = await compute.ledger()
    older = candles[-10]
    await compute.add_raw_event(
        {"s": "candle/1", "ts": "1", "d": encode_payload(older), "prev": "", "epoch": "e"}
    )
    await compute.wait_until_handled(2)
    assert await compute.ledger() == ledger
    assert await compute.latest_of(compute.forecast) == newest
    assert await compute.redis.xlen(compute.forecast.stream_key) == 1


async def test_a_short_history_gets_indicators_and_an_empty_evaluation_but_no_forecast(
    compute: Compute,
) -> None:
    """Too few candles to train on: nothing is forecast, and the evaluation says so."""
    candles = make_candles(100, seed=6)
    await cache_candles(compute.redis, compute.asset, candles)
    await compute.announce(candles[-1])
    await compute.wait_for_window(candles[-1].t)
    evaluation = await compute.wait_for_evaluation(candles[-1].t)
    assert evaluation.recorded == 0
    assert evaluation.overall.verdict.startswith("Too few scored forecasts")
    assert await compute.latest_of(compute.forecast) is None
    assert await compute.ledger() == {}
