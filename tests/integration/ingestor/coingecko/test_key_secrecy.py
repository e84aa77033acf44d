"""The CoinGecko key never appears in a log line or a URL, whatever happens to the calls."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest
import structlog
from redis.asyncio import Redis

from marketpulse_common.logs import configure_logging
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from marketpulse_ingestor.errors import SourceError
from tests.coingecko_server import faults
from tests.coingecko_server.server import FakeCoinGecko
from tests.integration.ingestor.harness import cg_settings, running_coingecko
from tests.waiting import eventually

pytestmark = pytest.mark.redis

HTTP_LOGGERS = ("httpx", "httpcore", "apscheduler")


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Every log line, ours and httpx's and httpcore's at debug level, into one buffer. The
    key is deliberately *not* registered with the scrubber: nothing may log it at all."""
    out = io.StringIO()
    configure_logging(service="ingestor", log_format="json", level="debug", stream=out)
    structlog.configure(cache_logger_on_first_use=False)  # keep module loggers uncached
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


async def test_the_key_stays_in_its_header_through_every_kind_of_failure(
    demo_coingecko: FakeCoinGecko,
    redis_server: RedisServer,
    private_redis: Redis,
    unique: str,
    log_text: io.StringIO,
) -> None:
    """Backfill, tickers, a 429, 503s, a timeout, a malformed body and a rejected key, all
    logged at debug level: the key is in the x-cg-demo-api-key header of every request and
    in no URL and no log line."""
    key = demo_coingecko.api_key
    assert key is not None
    settings = cg_settings(
        redis_server.url,
        demo_coingecko,
        [unique],
        timeframes=["5m", "4h"],
        coingecko_budget_window_s=3.0,
        coingecko_calls_per_minute=60,
        coingecko_monthly_calls=10_000_000,
        coingecko_ticker_interval_s=0.3,
        coingecko_timeout_s=0.5,
    )
    for fault in (
        faults.rate_limited_json("0.2"),
        faults.server_error(503),
        faults.hang(2),
        faults.malformed_json(),
    ):
        demo_coingecko.fail_next(fault, path_contains="/coins/markets")
    async with running_coingecko(settings, "secretive"):
        await eventually(
            lambda: _tickers_after_faults(demo_coingecko), timeout=20, what="faults served"
        )
    wrong = cg_settings(redis_server.url, demo_coingecko, [unique], coingecko_api_key=key[::-1])
    rejected = await CoinGeckoSource.open(wrong, private_redis)
    with pytest.raises(SourceError):
        await rejected.tickers(int(time.time()))
    await rejected.aclose()

    text = log_text.getvalue()
    assert "HTTP Request: GET" in text  # httpx's own request lines (with URLs) were captured
    assert "upstream rate limit" in text and "upstream call failed" in text
    for secret in (key, key[::-1]):
        assert secret not in text
        assert secret[-10:] not in text
    calls = demo_coingecko.calls
    assert all(secret_free(c.path + "?" + c.query, key) for c in calls)
    assert {c.headers.get("x-cg-demo-api-key") for c in calls} == {key, key[::-1]}


def secret_free(url: str, key: str) -> bool:
    return key not in url and key[::-1] not in url and "x_cg_" not in url


async def _tickers_after_faults(server: FakeCoinGecko) -> bool:
    return server.scripted_served() and len(server.calls_to("/coins/markets")) >= 7
