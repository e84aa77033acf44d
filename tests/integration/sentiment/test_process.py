"""`python -m marketpulse_sentiment` runs alone on MP_REDIS_URL and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer
from tests.beacons import live_instances
from tests.integration.sentiment.cache_seed import (
    publish_indicators,
    publish_ticker,
    stored_sentiment,
)
from tests.integration.sentiment.fake_anthropic import (
    API_KEY,
    RATE_LIMITED,
    VALID_BULLISH,
    FakeAnthropic,
    always,
    tool_reply,
)
from tests.processes import ServiceProcess, service_env
from tests.waiting import eventually

pytestmark = [pytest.mark.redis, pytest.mark.system]


def start(redis_url: str, asset: str, workdir: Path, **extra: str) -> ServiceProcess:
    env = service_env(MP_REDIS_URL=redis_url, MP_ASSETS=asset, MP_TIMEFRAMES="1h", **extra)
    return ServiceProcess("sentiment", env, workdir)


async def test_the_service_runs_alone_and_drains_on_sigterm(
    redis: Redis, redis_url: str, unique: str, tmp_path: Path
) -> None:
    """Started as a process it publishes a sentiment, then exits 0 on SIGTERM with a log line."""
    proc = start(redis_url, unique, tmp_path)
    try:

        async def beacon() -> bool:
            return any(str(proc.pid) in str(b["instance"]) for b in await live_instances(redis))

        await eventually(beacon, timeout=20, what="the process's health beacon")
        await publish_ticker(redis, unique)
        await publish_indicators(redis, unique, Timeframe.H1)
        s = await eventually(lambda: stored_sentiment(redis, unique), what="a sentiment")
        assert s.provider == "heuristic"
        code = await asyncio.to_thread(proc.terminate, 15)
    finally:
        proc.kill()
    assert code == 0, proc.log.read_text()
    assert any(line["event"] == "sentiment stopped" for line in proc.events())


async def test_the_model_provider_runs_as_a_process_without_logging_the_key(
    redis_server: RedisServer, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL set: model readings, and the key in no log
    line, even with the service and the SDK both logging at debug level."""
    fake_anthropic.script(RATE_LIMITED)
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    extra = {
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "ANTHROPIC_LOG": "debug",
        "MP_LOG_LEVEL": "debug",
    }
    redis = create_redis(redis_server.url)
    proc = start(redis_server.url, "bitcoin", tmp_path, **extra)
    try:
        await publish_ticker(redis, "bitcoin")
        await publish_indicators(redis, "bitcoin", Timeframe.H1)
        s = await eventually(lambda: stored_sentiment(redis, "bitcoin"), timeout=20, what="reading")
        code = await asyncio.to_thread(proc.terminate, 15)
    finally:
        proc.kill()
        await redis.aclose()
    text = proc.log.read_text()
    assert code == 0, text
    assert s.provider == "anthropic" and fake_anthropic.calls == 2
    assert "Sending HTTP Request" in text and "sentiment published" in text
    assert API_KEY not in text
