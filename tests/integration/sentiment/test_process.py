"""`python -m marketpulse_sentiment` runs alone on MP_REDIS_URL and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.embedded_redis import RedisServer
from marketpulse_common.health import live_instances
from marketpulse_common.timeframes import Timeframe
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
from tests.waiting import eventually

pytestmark = [pytest.mark.redis, pytest.mark.system]


def start(
    redis_url: str, asset: str, log: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MP_", "ANTHROPIC_"))}
    env |= {
        "MP_REDIS_URL": redis_url,
        "MP_ASSETS": asset,
        "MP_TIMEFRAMES": "1h",
        "MP_LOG_FORMAT": "json",
    } | (extra or {})
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "marketpulse_sentiment"], env=env, stdout=out, stderr=out
        )


async def test_the_service_runs_alone_and_drains_on_sigterm(
    redis: Redis, redis_url: str, unique: str, tmp_path: Path
) -> None:
    """Started as a process it publishes a sentiment, then exits 0 on SIGTERM with a log line."""
    log = tmp_path / "sentiment.log"
    proc = start(redis_url, unique, log)
    try:

        async def beacon() -> bool:
            return any(str(proc.pid) in str(b["instance"]) for b in await live_instances(redis))

        await eventually(beacon, timeout=20, what="the process's health beacon")
        await publish_ticker(redis, unique)
        await publish_indicators(redis, unique, Timeframe.H1)
        s = await eventually(lambda: stored_sentiment(redis, unique), what="a sentiment")
        assert s.provider == "heuristic"
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    assert code == 0, log.read_text()
    assert any(line["event"] == "sentiment stopped" for line in lines)


async def test_the_model_provider_runs_as_a_process_without_logging_the_key(
    redis_server: RedisServer, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL set: model readings, and the key in no log
    line, even with the service and the SDK both logging at debug level."""
    fake_anthropic.script(RATE_LIMITED)
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    log = tmp_path / "sentiment.log"
    extra = {
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "ANTHROPIC_LOG": "debug",
        "MP_LOG_LEVEL": "debug",
    }
    redis = create_redis(redis_server.url)
    proc = start(redis_server.url, "bitcoin", log, extra)
    try:
        await publish_ticker(redis, "bitcoin")
        await publish_indicators(redis, "bitcoin", Timeframe.H1)
        s = await eventually(lambda: stored_sentiment(redis, "bitcoin"), timeout=20, what="reading")
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await redis.aclose()
    text = log.read_text()
    assert code == 0, text
    assert s.provider == "anthropic" and fake_anthropic.calls == 2
    assert "Sending HTTP Request" in text and "sentiment published" in text
    assert API_KEY not in text
