"""The whole service: started alone, it beats, computes, and stops cleanly when told to."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from redis.asyncio import Redis

from marketpulse_common.health import instance_id
from marketpulse_common.settings import load_settings
from marketpulse_compute.service import SERVICE, run
from tests.beacons import live_instances
from tests.integration.compute.harness import TF, Market, cache_candles, make_candles
from tests.processes import running_service, service_env
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def feed_one_window(market: Market) -> int:
    """Cache a window, announce its newest candle, and return that candle's open time."""
    candles = make_candles(50)
    await cache_candles(market.redis, market.asset, candles)
    await market.announce(candles[-1])
    return candles[-1].t


async def beacon_of(redis: Redis, instance: str) -> bool:
    return any(beat["instance"] == instance for beat in await live_instances(redis, SERVICE))


async def test_run_beats_computes_and_returns_on_stop(
    redis: Redis, redis_url: str, unique: str
) -> None:
    """run() announces itself, turns a candle event into indicators, and returns on stop."""
    settings = load_settings(redis_url=redis_url, assets=[unique], timeframes=[TF.value])
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    await eventually(lambda: beacon_of(redis, instance_id(SERVICE)), what="a health beacon")
    market = Market(redis, unique)
    await market.wait_for_window(await feed_one_window(market))
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_run_forecasts_at_the_configured_horizon(
    redis: Redis, redis_url: str, unique: str
) -> None:
    """MP_FORECAST_HORIZON=3: the published forecast looks three candles ahead."""
    settings = load_settings(
        redis_url=redis_url, assets=[unique], timeframes=[TF.value], forecast_horizon=3
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    market = Market(redis, unique)
    candles = make_candles(200)
    await cache_candles(redis, unique, candles)
    await market.announce(candles[-1])
    forecast = await market.wait_for_forecast(candles[-1].t)
    assert (forecast.horizon, forecast.resolves_at) == (3, candles[-1].t + 3 * TF.seconds)
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.mark.system
async def test_the_module_runs_alone_and_exits_cleanly_on_sigterm(
    redis: Redis, redis_url: str, unique: str, tmp_path: Path
) -> None:
    """`python -m marketpulse_compute` serves MP_REDIS_URL and exits 0 on SIGTERM."""
    env = service_env(MP_REDIS_URL=redis_url, MP_ASSETS=unique, MP_TIMEFRAMES=TF.value)
    with running_service("compute", env, tmp_path) as child:
        instance = f"{SERVICE}-{socket.gethostname()}-{child.pid}"
        await eventually(lambda: beacon_of(redis, instance), what="the child's beacon")
        market = Market(redis, unique)
        await market.wait_for_window(await feed_one_window(market))
        code = await asyncio.to_thread(child.terminate, 15)
    assert code == 0
    events = [line["event"] for line in child.events()]
    assert "compute stopped" in events
