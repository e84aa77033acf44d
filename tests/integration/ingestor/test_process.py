"""`python -m marketpulse_ingestor` as an OS process: starts alone, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from marketpulse_common.embedded_redis import RedisServer
from marketpulse_common.keys import Channel, ChannelKind
from tests.integration.ingestor.harness import stream_length
from tests.waiting import eventually

pytestmark = pytest.mark.system


def child_env(**values: str) -> dict[str, str]:
    """The test runner's environment without any MP_ setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MP_")}
    return {**env, "MP_LOG_FORMAT": "json", **values}


async def start_ingestor(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "marketpulse_ingestor",
            env=env,
            cwd=cwd,  # no stray .env from the developer's checkout
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )


def events(log: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]


@pytest.mark.redis
async def test_the_module_ingests_alone_and_exits_cleanly_on_sigterm(
    private_redis: Redis, redis_server: RedisServer, unique: str, tmp_path: Path
) -> None:
    """Started with MP_REDIS_URL it publishes tickers; SIGTERM drains and exits 0."""
    env = child_env(
        MP_REDIS_URL=redis_server.url,
        MP_SOURCE="simulated",
        MP_SIM_SPEED="3600",
        MP_ASSETS=unique,
        MP_TIMEFRAMES="1h",
        MP_HISTORY_DEPTH="50",
    )
    log = tmp_path / "ingestor.log"
    child = await start_ingestor(env, tmp_path, log)
    try:
        ticker = Channel(ChannelKind.TICKER, unique)

        async def ticked() -> bool:
            return await stream_length(private_redis, ticker) >= 2

        await eventually(ticked, timeout=20, what="tickers from the child")
        child.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(child.wait(), 15)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert code == 0
    assert "ingestor stopped" in [e["event"] for e in events(log)]


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
    log = tmp_path / "ingestor.log"
    child_env_values = {"MP_REDIS_URL": "redis://127.0.0.1:9/0", "MP_SOURCE": "coingecko", **env}
    child = await start_ingestor(child_env(**child_env_values), tmp_path, log)
    code = await asyncio.wait_for(child.wait(), 30)
    assert code == 2
    lines = events(log)
    assert len(lines) == 1
    assert lines[0]["level"] == "error"
    assert named in str(lines[0]["event"])
    assert "CG-process-test-key" not in log.read_text()
