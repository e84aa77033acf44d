"""A real gateway for integration tests: uvicorn in-process on a free loopback port.

The gateway tracks only the test's `unique` asset, so tests share the session Redis safely.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect

from marketpulse_common.events import (
    Candle,
    CandleWindow,
    Indicators,
    Sentiment,
    Ticker,
    encode_payload,
)
from marketpulse_common.keys import Channel, ChannelKind, candles_key
from marketpulse_common.publisher import Published, Publisher, read_snapshot
from marketpulse_common.settings import Settings, load_settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.app import create_app
from marketpulse_gateway.runtime import Tuning

TIMEFRAMES = [Timeframe.M5, Timeframe.H1]
# Tests share 127.0.0.1 (one rate-limit subject) and the session Redis: a limit no test
# reaches keeps the limiter on its normal path without one test's requests failing another.
# Rate-limit tests set their own limits.
TEST_RATE_LIMIT = {"rate_limit_per_minute": 6_000_000, "rate_limit_burst": 100_000}


@dataclass(frozen=True)
class RunningGateway:
    base_url: str
    ws_url: str
    asset: str
    settings: Settings


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met before the deadline")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[int]:
    """Run `app` with uvicorn on 127.0.0.1 and a free port; yields the port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done())
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped during start-up")
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def running_gateway(
    redis_url: str,
    asset: str,
    tuning: Tuning | None = None,
    *,
    clock: Callable[[], float] = time.time,
    **settings_overrides: object,
) -> AsyncIterator[RunningGateway]:
    settings = load_settings(
        redis_url=redis_url,
        assets=[asset],
        timeframes=TIMEFRAMES,
        **{**TEST_RATE_LIMIT, **settings_overrides},
    )
    async with serve(create_app(settings, tuning=tuning, clock=clock)) as port:
        yield RunningGateway(
            base_url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}/v1/stream",
            asset=asset,
            settings=settings,
        )


@pytest.fixture
async def gateway(redis_url: str, unique: str) -> AsyncIterator[RunningGateway]:
    async with running_gateway(redis_url, unique) as running:
        yield running


@pytest.fixture
async def http(gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def publisher(redis: Redis) -> Publisher:
    return Publisher(redis)


def ticker(asset: str, price: float, volume: float = 1000.0) -> Ticker:
    return Ticker(
        asset=asset,
        vs_currency="usd",
        price=price,
        volume_24h=volume,
        last_updated=datetime.now(UTC),
    )


async def publish_ticker(
    publisher: Publisher, asset: str, price: float, *, ts: float | None = None
) -> Published:
    published = await publisher.publish(
        Channel(ChannelKind.TICKER, asset), ticker(asset, price), ts=ts
    )
    assert published is not None
    return published


async def store_candles(
    redis: Redis, publisher: Publisher, asset: str, tf: Timeframe, opens: list[int]
) -> list[Candle]:
    """Write closed candles as the ingestor does (ZSET) and announce the newest one."""
    candles = [Candle(t=t, o=100, h=110, l=90, c=105, v=3) for t in opens]
    await redis.zadd(candles_key(asset, tf), {encode_payload(c): c.t for c in candles})
    await publisher.publish(Channel(ChannelKind.CANDLES, asset, tf), candles[-1], ver=max(opens))
    return candles


@asynccontextmanager
async def ws_client(gateway: RunningGateway) -> AsyncIterator[ClientConnection]:
    async with connect(gateway.ws_url, open_timeout=5, close_timeout=2) as ws:
        yield ws


async def next_frame(ws: ClientConnection, timeout: float = 5.0) -> dict[str, object]:
    """The next frame other than a heartbeat."""
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] != "heartbeat":
            return frame


@pytest.fixture
def indicators(unique: str) -> Indicators:
    window = CandleWindow(tf=Timeframe.H1, first_open=0, last_open=3600, count=2, input_hash="abc")
    return Indicators(
        asset=unique,
        tf=Timeframe.H1,
        window=window,
        params={"ema": 20},
        lookback={"ema_20": 20},
        values={"ema_20": 101.0, "rsi_14": None},
        computed_at=datetime.now(UTC),
    )


@pytest.fixture
def sentiment(unique: str) -> Sentiment:
    return Sentiment(
        asset=unique,
        label="bullish",
        score=0.5,
        confidence=0.7,
        summary="up",
        drivers=["ema rising"],
        provider="heuristic",
        input_hash="abc",
        created_at=datetime.now(UTC),
    )


async def write_rejected(redis: Redis, channel: Channel, data: dict[str, Any]) -> str:
    """What the publisher's script writes (entry + snapshot, chained), with a payload that
    fails the channel's schema; returns its seq."""
    stored = await read_snapshot(redis, channel)
    assert stored is not None
    payload = orjson.dumps(data).decode()
    fields: dict[FieldT, EncodableT] = {
        "s": stored.schema, "ts": "1.0", "d": payload, "epoch": stored.epoch, "src": "hand"
    }  # fmt: skip
    seq = str(await redis.xadd(channel.stream_key, {**fields, "prev": stored.seq}))
    await redis.hset(channel.snapshot_key, mapping={**fields, "seq": seq, "ver": ""})
    return seq
