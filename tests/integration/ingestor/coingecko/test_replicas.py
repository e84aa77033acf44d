"""Ingestor replicas on CoinGecko: one shared budget, one run per slot, pauses for everyone."""

from __future__ import annotations

import itertools
import time

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Ticker
from marketpulse_common.keys import Channel, ChannelKind, candles_key, job_slot_key, status_key
from marketpulse_common.lease import Lease
from marketpulse_common.publisher import read_snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer
from tests.coingecko_server import faults
from tests.coingecko_server.server import FakeCoinGecko, iter_windows
from tests.integration.ingestor.harness import Running, cg_settings, running_coingecko
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def scheduling(run: Running) -> bool:
    """Whether the replica's jobs are scheduled: its start-up backfill has ended."""
    return run.ingestor.jobs.running


def busiest(times: list[float], window: float) -> int:
    return max((count for _, count in iter_windows(times, window)), default=0)


async def test_two_replicas_never_put_more_than_c_calls_in_any_window(
    coingecko: FakeCoinGecko, redis_server: RedisServer, private_redis: Redis, unique: str
) -> None:
    """C = 4 calls per 2 s window, two replicas, a deep backfill on one and tickers on the
    other, some 503s and retries: for ~12 windows the ceiling is reached, never exceeded."""
    window, ceiling = 2.0, 4
    assets = [f"{unique}-{k}" for k in "abcd"]
    settings = cg_settings(
        redis_server.url,
        coingecko,
        assets,
        history_depth=300,  # 1d: four range calls per asset; 28 backfill calls in all
        coingecko_budget_window_s=window,
        coingecko_calls_per_minute=ceiling,
    )
    coingecko.fail_next(faults.server_error(503), times=3, path_contains="range")
    started = time.time()
    async with running_coingecko(settings, "replica-1"), running_coingecko(settings, "replica-2"):

        async def backfilled() -> bool:
            return all([await private_redis.exists(candles_key(a, Timeframe.D1)) for a in assets])

        await eventually(backfilled, timeout=40, interval=0.2, what="the backfill")
        await eventually(lambda: _after(started + 24), timeout=30, interval=0.2, what="24 s")
    times = [c.at for c in coingecko.calls]
    assert busiest(times, window) <= ceiling, sorted(times)
    assert busiest(times, window) == ceiling  # the budget, not the schedule, was the brake
    # Tickers (on the replica that did not backfill) interleaved with the backfill's calls.
    backfill = [c.at for c in coingecko.calls if "/market_chart/range" in c.path]
    tickers = [c.at for c in coingecko.calls if c.path == "/coins/markets"]
    assert any(min(backfill) < t < max(backfill) for t in tickers)


async def _after(moment: float) -> bool:
    return time.time() >= moment


async def test_a_429_with_retry_after_silences_every_replica_then_recovers(
    coingecko: FakeCoinGecko, redis_server: RedisServer, private_redis: Redis, unique: str
) -> None:
    """Retry-After: 3 on a ticker call: no call from either replica reaches the upstream for
    3 s; then tickers flow again."""
    settings = cg_settings(
        redis_server.url,
        coingecko,
        [unique],
        timeframes=["1d"],
        history_depth=50,
        coingecko_budget_window_s=2.0,
        coingecko_calls_per_minute=20,
        coingecko_ticker_interval_s=0.5,
    )
    ticker = Channel(ChannelKind.TICKER, unique)
    async with running_coingecko(settings, "replica-1"), running_coingecko(settings, "replica-2"):
        await eventually(lambda: _ticker_calls(coingecko, 3), timeout=15, what="tickers")
        coingecko.fail_next(faults.rate_limited_json("3"), path_contains="/coins/markets")
        limited = await eventually(lambda: _rate_limited_call(coingecko), what="the 429")
        before = await read_snapshot(private_redis, ticker)
        assert before is not None

        async def fresh_ticker() -> bool:
            snap = await read_snapshot(private_redis, ticker)
            return snap is not None and snap.ts > limited + 3

        await eventually(fresh_ticker, timeout=10, what="a ticker after the pause")
    later = [c.at for c in coingecko.calls if c.at > limited]
    assert later, "no call after the pause"
    assert min(later) >= limited + 3.0


async def _ticker_calls(server: FakeCoinGecko, count: int) -> bool:
    return len(server.calls_to("/coins/markets")) >= count


async def _rate_limited_call(server: FakeCoinGecko) -> float:
    # The scripted 429 answered the first ticker call after it was scripted.
    calls = server.calls_to("/coins/markets")
    return calls[-1].at if calls and server.scripted_served() else 0.0


async def test_three_replicas_make_the_calls_of_one(
    coingecko: FakeCoinGecko, redis_server: RedisServer, unique: str
) -> None:
    """Tickers every 0.6 s on three replicas: one call per slot, whichever replica runs it."""
    interval = 0.6
    settings = cg_settings(
        redis_server.url,
        coingecko,
        [unique],
        timeframes=["1d"],
        history_depth=50,
        coingecko_budget_window_s=3.0,
        coingecko_calls_per_minute=60,
        coingecko_ticker_interval_s=interval,
    )
    async with (
        running_coingecko(settings, "r1") as one,
        running_coingecko(settings, "r2") as two,
        running_coingecko(settings, "r3") as three,
    ):
        await eventually(lambda: _ticker_calls(coingecko, 10), timeout=20, what="10 tickers")
        runs = [r.ingestor.jobs.runs["tickers"] for r in (one, two, three)]
    calls = sorted(c.at for c in coingecko.calls_to("/coins/markets"))
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) > interval / 2, gaps  # never two calls for one slot
    assert sum(runs) == len(calls)


async def test_an_outage_keeps_the_last_good_data_and_records_why(
    coingecko: FakeCoinGecko, redis_server: RedisServer, private_redis: Redis, unique: str
) -> None:
    """Upstream down: candles and tickers stay as they were; the status says what failed."""
    settings = cg_settings(
        redis_server.url,
        coingecko,
        [unique],
        timeframes=["5m", "1h"],
        coingecko_budget_window_s=2.0,
        coingecko_calls_per_minute=30,
        coingecko_ticker_interval_s=0.3,
    )
    ticker = Channel(ChannelKind.TICKER, unique)
    async with running_coingecko(settings, "solo") as run:
        await eventually(lambda: read_snapshot(private_redis, ticker), what="a first ticker")
        cached = await private_redis.zrange(candles_key(unique, Timeframe.H1), 0, -1)
        good = await read_snapshot(private_redis, ticker)
        coingecko.go_down(faults.html_page())

        async def failing() -> bool:
            record = await private_redis.hgetall(status_key("coingecko"))
            return record.get("circuit") == "open"

        await eventually(failing, timeout=15, what="the circuit to open")
        await run.ingestor._refresher.refresh_candles(int(time.time()))
        assert await private_redis.zrange(candles_key(unique, Timeframe.H1), 0, -1) == cached
        assert await read_snapshot(private_redis, ticker) == good
    record = await private_redis.hgetall(status_key("coingecko"))
    assert record["last_error_kind"] in {"malformed", "budget"}
    assert float(record["last_success_at"]) < float(record["last_error_at"])
    assert good is not None and Ticker.model_validate_json(good.data).asset == unique


async def test_a_starting_replica_repairs_gaps_only_under_the_gap_jobs_lease(
    coingecko: FakeCoinGecko, redis_server: RedisServer, private_redis: Redis, unique: str
) -> None:
    """The start-up backfill ends with a gap repair; while another replica holds the gap
    job's lease (its scheduled repair is running), this one must not ask for the same holes
    too: each ask spends one of a hole's three tries and a call."""
    settings = cg_settings(redis_server.url, coingecko, [unique], timeframes=["1h"])
    key = candles_key(unique, Timeframe.H1)
    async with running_coingecko(settings, "first") as run:
        await eventually(lambda: scheduling(run), what="the backfill to end")
    opens = [int(score) for _, score in await private_redis.zrange(key, 0, -1, withscores=True)]
    await private_redis.zremrangebyscore(key, opens[30], opens[30])  # a hole
    # The first replica's repair claimed this grid slot; forget it, so only the lease is
    # in the way of the second replica's repair.
    await private_redis.delete(job_slot_key("ingestor:gaps"))
    other = Lease(private_redis, "ingestor:gaps", "other-replica", 60_000)
    assert await other.acquire() is not None
    async with running_coingecko(settings, "second") as run:
        await eventually(lambda: scheduling(run), what="the backfill to end")
        assert await private_redis.zcard(key) == len(opens) - 1
        await run.ingestor._repair_gaps()
        assert await private_redis.zcard(key) == len(opens)  # the hole could be repaired
