"""Two ingestor processes on one (fake) CoinGecko: the shared ceiling holds across processes,
the key stays in its header, and both stop cleanly."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind, candles_key, status_key
from marketpulse_common.timeframes import Timeframe
from tests.coingecko_server.server import DEMO_KEY, FakeCoinGecko, iter_windows
from tests.processes import running_service, service_env
from tests.redis_fixtures import RedisTarget
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.redis]

WINDOW, CEILING = 2.0, 4
ASSETS = ["bitcoin", "ethereum", "solana"]


async def test_two_processes_share_one_ceiling_and_keep_the_key_secret(
    product_redis: RedisTarget, tmp_path: Path
) -> None:
    """C = 4 per 2 s, a 21-call backfill and tickers from two processes: no window of the
    upstream's log holds more than 4 calls; the key is only ever in x-cg-demo-api-key."""
    with FakeCoinGecko(plan="demo") as server:
        env = service_env(
            **product_redis.env(),
            MP_SOURCE="coingecko",
            MP_ASSETS=",".join(ASSETS),
            MP_TIMEFRAMES="5m,1h,4h,1d",
            MP_HISTORY_DEPTH="300",
            MP_COINGECKO_PLAN="demo",
            MP_COINGECKO_API_KEY=DEMO_KEY,
            MP_COINGECKO_BASE_URL=server.base_url,
            MP_COINGECKO_BUDGET_WINDOW_S=str(WINDOW),
            MP_COINGECKO_CALLS_PER_MINUTE=str(CEILING),
            MP_COINGECKO_MONTHLY_CALLS="1000000",
            MP_LOG_LEVEL="debug",
        )
        redis = product_redis.client("system-test")
        try:
            with (
                running_service("ingestor", env, tmp_path) as one,
                running_service("ingestor", env, tmp_path) as two,
            ):
                await eventually(lambda: _filled(redis), timeout=60, interval=0.2, what="backfill")
                started = time.time()
                await eventually(lambda: _after(started + 8), timeout=20, what="8 more seconds")
                codes = [await asyncio.to_thread(child.terminate) for child in (one, two)]
                logs = [child.log.read_text() for child in (one, two)]
                events = [event for child in (one, two) for event in child.events()]
            record = await redis.hgetall(status_key("coingecko"))
        finally:
            await redis.aclose()
        calls = server.calls
    assert codes == [0, 0]
    times = [c.at for c in calls]
    start, busiest = max(iter_windows(times, WINDOW), key=lambda window: window[1])
    inside = [(round(c.at - start, 3), c.path) for c in calls if start <= c.at < start + WINDOW]
    assert busiest == CEILING, inside  # reached (the budget was the brake), never exceeded
    assert all(DEMO_KEY not in log for log in logs)
    assert all(DEMO_KEY not in c.path + c.query and "x_cg_" not in c.query for c in calls)
    assert {c.headers.get("x-cg-demo-api-key") for c in calls} == {DEMO_KEY}
    schedules = [e for e in events if e["event"] == "coingecko schedule"]
    assert len(schedules) == 2 and "calls/min planned of 120" in str(schedules[0]["schedule"])
    assert record["plan"] == "demo" and int(record["calls_month"]) == len(calls)


async def _filled(redis: Redis) -> bool:
    tickers = [await redis.exists(Channel(ChannelKind.TICKER, a).snapshot_key) for a in ASSETS]
    daily = [await redis.exists(candles_key(a, Timeframe.D1)) for a in ASSETS]
    return all(tickers) and all(daily)


async def _after(moment: float) -> bool:
    return time.time() >= moment
