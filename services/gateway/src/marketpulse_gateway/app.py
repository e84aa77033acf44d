"""The FastAPI application: built by `create_app(settings)`, its resources owned by the lifespan.

FastAPI owns routing, validation and the OpenAPI document; the data itself is served as the
JSON producers stored, spliced into the envelope (see envelope.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from marketpulse_common.settings import Settings
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.openapi import install_openapi
from marketpulse_gateway.problems import install_problem_handlers
from marketpulse_gateway.routes import assets, candles, health, snapshot, stream
from marketpulse_gateway.runtime import Tuning, open_gateway

API_VERSION = "1"
DESCRIPTION = """\
Crypto market data from the marketpulse cache: tickers, closed candles, indicators and
sentiment over REST, and live updates over the `/v1/stream` WebSocket.

Success bodies are `{"data": …, "meta": {"as_of", "age_s", "stale", "source"}}`; errors are
RFC 9457 `application/problem+json`. Data responses carry a weak `ETag`; send it back in
`If-None-Match` to get `304 Not Modified` while nothing changed.
"""


def create_app(
    settings: Settings,
    *,
    tuning: Tuning | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The gateway app; Redis is opened and the stream reader started when it starts serving."""
    tuning = tuning or Tuning()
    catalog = Catalog(settings.assets, settings.timeframes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_gateway(settings, catalog, tuning, clock) as gateway:
            app.state.gateway = gateway
            yield

    app = FastAPI(
        title="marketpulse gateway",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_openapi(app, catalog)
    for module in (assets, candles, snapshot, health, stream):
        app.include_router(module.router)
    return app
