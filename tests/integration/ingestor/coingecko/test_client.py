"""CoinGecko calls over real HTTP: keys in headers only, 429 pauses, retries, timeouts, circuit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import status_key
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from marketpulse_ingestor.errors import (
    CallRefused,
    MalformedResponse,
    RequestRejected,
    UpstreamUnavailable,
)
from tests.coingecko_server import faults
from tests.coingecko_server.server import FakeCoinGecko
from tests.integration.ingestor.harness import cg_settings
from tests.waiting import eventually

pytestmark = pytest.mark.redis

# A 6 s budget window: retries back off 0.2 s then 0.4 s, a call waits up to 7.2 s for a slot.
WINDOW = 6.0


@pytest.fixture
async def open_source(redis_server: RedisServer) -> AsyncIterator[Any]:
    opened: list[CoinGeckoSource] = []
    clients: list[Redis] = []

    async def open_(server: FakeCoinGecko, **overrides: Any) -> CoinGeckoSource:
        values = {
            "coingecko_budget_window_s": WINDOW,
            "coingecko_calls_per_minute": 50,
            **overrides,
        }
        settings = cg_settings(redis_server.url, server, ["bitcoin", "ethereum"], **values)
        clients.append(create_redis(redis_server.url, client_name="replica"))
        source = await CoinGeckoSource.open(settings, clients[-1])
        opened.append(source)
        return source

    yield open_
    for source in opened:
        await source.aclose()
    for client in clients:
        await client.aclose()


async def status(redis: Redis) -> dict[str, str]:
    return await redis.hgetall(status_key("coingecko"))  # type: ignore[no-any-return]


async def test_the_demo_key_travels_only_in_its_header(
    demo_coingecko: FakeCoinGecko, open_source: Any
) -> None:
    """One /coins/markets call for all assets, the key in x-cg-demo-api-key, never the URL."""
    source = await open_source(demo_coingecko)
    tickers = await source.tickers(int(time.time()))
    assert {t.asset for t in tickers} == {"bitcoin", "ethereum"}
    [call] = demo_coingecko.calls
    assert call.path == "/coins/markets"
    assert call.headers["x-cg-demo-api-key"] == demo_coingecko.api_key
    assert "x-cg-pro-api-key" not in call.headers
    assert demo_coingecko.api_key not in call.path + call.query
    assert call.params["ids"] == "bitcoin,ethereum"


async def test_the_pro_key_travels_in_the_pro_header(
    pro_coingecko: FakeCoinGecko, open_source: Any
) -> None:
    """The pro plan sends x-cg-pro-api-key (and may use the paid OHLC intervals)."""
    source = await open_source(pro_coingecko)
    await source.tickers(int(time.time()))
    [call] = pro_coingecko.calls
    assert call.headers["x-cg-pro-api-key"] == pro_coingecko.api_key
    assert "x-cg-demo-api-key" not in call.headers


async def test_a_rejected_key_is_not_retried_and_never_quoted(
    demo_coingecko: FakeCoinGecko, open_source: Any, private_redis: Redis
) -> None:
    """401 is our mistake: one call, an error naming CoinGecko's code, not the key."""
    source = await open_source(demo_coingecko, coingecko_api_key="CG-wrong-key-0000000000")
    with pytest.raises(RequestRejected, match="10002") as caught:
        await source.tickers(int(time.time()))
    assert len(demo_coingecko.calls) == 1
    assert "CG-wrong-key" not in str(caught.value)
    record = await status(private_redis)
    assert record["last_error_kind"] == "client_error"
    assert record["circuit"] == "closed"


@pytest.mark.parametrize("fault", [faults.rate_limited_json, faults.rate_limited_html])
async def test_a_429_with_retry_after_holds_every_call_that_long(
    coingecko: FakeCoinGecko, open_source: Any, fault: Any
) -> None:
    """Retry-After: 2 (JSON or HTML body): the retry reaches the server no sooner, then works."""
    source = await open_source(coingecko)
    coingecko.fail_next(fault("2"))
    tickers = await source.tickers(int(time.time()))
    assert len(tickers) == 2
    first, second = coingecko.calls
    assert second.at - first.at >= 2.0


async def test_a_503_with_retry_after_holds_every_call_that_long(
    coingecko: FakeCoinGecko, open_source: Any, private_redis: Redis
) -> None:
    """A 503 may carry Retry-After too (an upstream in maintenance says when to come back):
    no retry before it, from any replica, instead of the short local backoff."""
    source = await open_source(coingecko)
    coingecko.fail_next(faults.server_error(503, retry_after="2"))
    tickers = await source.tickers(int(time.time()))
    assert len(tickers) == 2
    first, second = coingecko.calls
    assert second.at - first.at >= 2.0
    assert float((await status(private_redis))["paused_until"]) >= first.at + 2.0


async def test_a_503_saying_retry_after_0_still_gets_the_local_backoff(
    coingecko: FakeCoinGecko, open_source: Any
) -> None:
    """'Come back now' from a failing host is no reason to retry at once."""
    source = await open_source(coingecko)
    coingecko.fail_next(faults.server_error(503, retry_after="0"))
    await source.tickers(int(time.time()))
    first, second = coingecko.calls
    assert second.at - first.at >= 0.1  # base 0.2 s (W/30) with equal jitter


async def test_a_retry_after_date_is_honoured(coingecko: FakeCoinGecko, open_source: Any) -> None:
    """Retry-After as an HTTP date: no call before that moment."""
    source = await open_source(coingecko)
    until = time.time() + 3
    header = format_datetime(datetime.fromtimestamp(until, UTC), usegmt=True)
    coingecko.fail_next(faults.rate_limited_json(header))
    await source.tickers(int(time.time()))
    assert coingecko.calls[1].at >= int(until)  # HTTP dates have whole seconds


async def test_a_retry_after_in_milliseconds_is_honoured(
    coingecko: FakeCoinGecko, open_source: Any
) -> None:
    """`retry-after-ms: 1500` (the millisecond form some APIs send): no call for 1.5 s."""
    source = await open_source(coingecko)
    rate_limited = faults.rate_limited_json()
    coingecko.fail_next(replace(rate_limited, headers={"retry-after-ms": "1500"}))
    await source.tickers(int(time.time()))
    first, second = coingecko.calls
    assert second.at - first.at >= 1.5


async def test_a_429_without_retry_after_backs_off_for_every_replica(
    coingecko: FakeCoinGecko, open_source: Any, private_redis: Redis
) -> None:
    """No Retry-After: a jittered exponential pause, recorded in the status and shared: a
    second replica calling during it waits too."""
    source = await open_source(coingecko)
    other = await open_source(coingecko)  # a second replica: its own HTTP and Redis clients
    coingecko.fail_next(faults.rate_limited_html())
    started = time.time()
    await source.tickers(int(started))
    pause = coingecko.calls[1].at - coingecko.calls[0].at
    assert 0.2 <= pause <= 0.6  # base 0.4 s (W/15) with equal jitter
    record = await status(private_redis)
    assert record["last_error_kind"] == "rate_limited"
    assert float(record["paused_until"]) > started

    coingecko.fail_next(faults.rate_limited_json())
    first = asyncio.create_task(source.tickers(int(time.time())))

    async def paused_until() -> float:
        until = float((await status(private_redis)).get("paused_until", 0))
        return until if until > time.time() else 0.0

    until = await eventually(paused_until, what="a pause after the second 429")
    await other.tickers(int(time.time()))
    await first
    after = [c.at for c in coingecko.calls if c.at > until - 0.05]
    assert len(coingecko.calls) == 5 and len(after) == 2  # the 429, then one call each
    assert min(after) >= until - 0.01


async def test_a_retry_after_longer_than_the_wait_gives_up_at_once(
    coingecko: FakeCoinGecko, open_source: Any
) -> None:
    """A pause beyond what a job may wait: CallRefused now, not a job stuck for an hour."""
    source = await open_source(coingecko)
    coingecko.fail_next(faults.rate_limited_json("3600"))
    started = time.monotonic()
    with pytest.raises(CallRefused) as caught:
        await source.tickers(int(time.time()))
    assert time.monotonic() - started < 2
    assert caught.value.retry_in_s is not None and caught.value.retry_in_s > 3000
    assert len(coingecko.calls) == 1


async def test_server_errors_are_retried_with_backoff(
    coingecko: FakeCoinGecko, open_source: Any, private_redis: Redis
) -> None:
    """Two 503s then an answer: three calls, spaced by a growing jittered backoff."""
    source = await open_source(coingecko)
    coingecko.fail_next(faults.server_error(503), times=2)
    assert len(await source.tickers(int(time.time()))) == 2
    a, b, c = (call.at for call in coingecko.calls)
    assert b - a >= 0.1 and c - b >= 0.2
    record = await status(private_redis)
    assert record["last_error"] == "HTTP 503 from /coins/markets"
    assert float(record["last_success_at"]) > float(record["last_error_at"])
    assert record["consecutive_failures"] == "0"


async def test_a_hanging_upstream_times_out(coingecko: FakeCoinGecko, open_source: Any) -> None:
    """No answer within the timeout: each attempt is cut at 0.5 s, then an error."""
    source = await open_source(coingecko, coingecko_timeout_s=0.5)
    coingecko.fail_next(faults.hang(5), times=3)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable, match=r"within 0\.5 s") as caught:
        await source.tickers(int(time.time()))
    assert caught.value.kind == "timeout"
    assert len(coingecko.calls) == 3
    assert time.monotonic() - started < 4


async def test_a_slow_answer_inside_the_timeout_is_fine(
    coingecko: FakeCoinGecko, open_source: Any
) -> None:
    """Slow is not broken: an answer after 0.3 s with a 2 s timeout is used."""
    source = await open_source(coingecko)
    coingecko.fail_next(faults.slow(0.3))
    assert len(await source.tickers(int(time.time()))) == 2
    assert len(coingecko.calls) == 1


@pytest.mark.parametrize("fault", [faults.malformed_json, faults.html_page])
async def test_a_malformed_body_is_an_error_after_retries(
    coingecko: FakeCoinGecko, open_source: Any, fault: Any
) -> None:
    """Truncated JSON or an HTML page with status 200: MalformedResponse, nothing returned."""
    source = await open_source(coingecko)
    coingecko.fail_next(fault(), times=3)
    with pytest.raises(MalformedResponse):
        await source.tickers(int(time.time()))
    assert len(coingecko.calls) == 3


async def test_repeated_failures_open_the_circuit_for_every_caller(
    coingecko: FakeCoinGecko, open_source: Any, private_redis: Redis
) -> None:
    """Five failures in a row: calls are refused without reaching the upstream, until a probe
    after the cooldown finds it back. The cooldown is a fifth of the ticker interval: 2 s here,
    well past the retry's own backoff (with 0.4 s, the retry's sleep alone could outlast it, and
    the refused call became the probe)."""
    source = await open_source(coingecko, coingecko_ticker_interval_s=10.0)
    coingecko.go_down(faults.server_error(502))
    with pytest.raises(UpstreamUnavailable):
        await source.tickers(int(time.time()))
    with pytest.raises((UpstreamUnavailable, CallRefused)):
        await source.tickers(int(time.time()))
    assert (await status(private_redis))["circuit"] == "open"
    reached = len(coingecko.calls)
    with pytest.raises(CallRefused, match="circuit"):
        await source.tickers(int(time.time()))
    assert len(coingecko.calls) == reached
    coingecko.come_back()

    async def recovered() -> bool:
        try:
            return len(await source.tickers(int(time.time()))) == 2
        except CallRefused:
            return False  # still cooling down (at most 8 s: 0.8 of the ticker interval)

    await eventually(recovered, timeout=15, interval=0.2, what="the probe after the cooldown")
    assert (await status(private_redis))["circuit"] == "closed"
