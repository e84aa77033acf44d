"""`python -m marketpulse_ingestor` as an OS process: starts alone, stops on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_dev.embedded_redis import RedisServer
from tests.integration.ingestor.harness import stream_length
from tests.processes import running_service, service_env
from tests.waiting import eventually

pytestmark = pytest.mark.system


@pytest.mark.redis
async def test_the_module_ingests_alone_and_exits_cleanly_on_sigterm(
    private_redis: Redis, redis_server: RedisServer, unique: str, tmp_path: Path
) -> None:
    """Started with MP_REDIS_URL it publishes tickers; SIGTERM drains and exits 0."""
    env = service_env(
        MP_REDIS_URL=redis_server.url,
        MP_SOURCE="simulated",
        MP_SIM_SPEED="3600",
        MP_ASSETS=unique,
        MP_TIMEFRAMES="1h",
        MP_HISTORY_DEPTH="50",
    )
    with running_service("ingestor", env, tmp_path) as child:
        ticker = Channel(ChannelKind.TICKER, unique)

        async def ticked() -> bool:
            return await stream_length(private_redis, ticker) >= 2

        await eventually(ticked, timeout=20, what="tickers from the child")
        code = await asyncio.to_thread(child.terminate, 15)
    assert code == 0
    assert "ingestor stopped" in [e["event"] for e in child.events()]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MP_TIMEFRAMES": "1m,5m"}, "MP_TIMEFRAMES"),
        ({"MP_COINGECKO_PLAN": "demo"}, "MP_COINGECKO_API_KEY"),
        ({"MP_COINGECKO_API_KEY": "CG-process-test-key-0000"}, "MP_COINGECKO_PLAN"),
    ],
)
async def test_what_coingecko_cannot_do_is_refused_with_one_clear_line(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    """1m candles, a plan without its key, a key without its plan: exit 2, one line naming
    the setting, before any connection (nothing listens on port 9)."""
    values = {"MP_REDIS_URL": "redis://127.0.0.1:9/0", "MP_SOURCE": "coingecko", **env}
    with running_service("ingestor", service_env(**values), tmp_path) as child:
        code = await asyncio.to_thread(child.proc.wait, 30)
    assert code == 2
    lines = child.events()
    assert len(lines) == 1
    assert lines[0]["level"] == "error"
    assert named in str(lines[0]["event"])
    assert "CG-process-test-key" not in child.log.read_text()
