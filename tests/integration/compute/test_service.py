"""The whole service: started alone, it beats, computes, and stops cleanly when told to."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from marketpulse_common.health import instance_id, live_instances
from marketpulse_common.settings import load_settings
from marketpulse_compute.service import SERVICE, run
from tests.integration.compute.harness import TF, Market, cache_candles, make_candles
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


@pytest.mark.system
async def test_the_module_runs_alone_and_exits_cleanly_on_sigterm(
    redis: Redis, redis_url: str, unique: str, tmp_path: Path
) -> None:
    """`python -m marketpulse_compute` serves MP_REDIS_URL and exits 0 on SIGTERM."""
    env = {
        **os.environ,
        "MP_REDIS_URL": redis_url,
        "MP_ASSETS": unique,
        "MP_TIMEFRAMES": TF.value,
        "MP_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "compute.log"
    with log_path.open("wb") as log_file:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "marketpulse_compute",
            env=env,
            cwd=tmp_path,  # no stray .env from the developer's checkout
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            instance = f"{SERVICE}-{socket.gethostname()}-{child.pid}"
            await eventually(lambda: beacon_of(redis, instance), what="the child's beacon")
            market = Market(redis, unique)
            await market.wait_for_window(await feed_one_window(market))
            child.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(child.wait(), 15)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
    assert code == 0
    events = [orjson.loads(line)["event"] for line in log_path.read_bytes().splitlines()]
    assert "compute stopped" in events
