"""A real gateway next to the ingestor in tests: uvicorn in-process on a free loopback port,
reading the same Redis, with a clock the test can move (the gateway takes it as a seam)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from marketpulse_common.settings import load_settings
from marketpulse_gateway.app import create_app


@dataclass
class MovableClock:
    """Wall time plus an offset the test advances: "twenty minutes later" in no time."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@asynccontextmanager
async def running_gateway(
    redis_url: str, assets: list[str], timeframes: list[str], clock: MovableClock
) -> AsyncIterator[str]:
    """The gateway's base URL while it serves."""
    settings = load_settings(
        redis_url=redis_url, assets=assets, timeframes=timeframes, rate_limit_per_minute=0
    )
    app = create_app(settings, clock=clock)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 15
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            server.should_exit = True
            await task
            raise RuntimeError("the gateway did not start")
        await asyncio.sleep(0.01)
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
