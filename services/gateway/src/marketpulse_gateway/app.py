"""The gateway application: built by `create_app(settings)`, its resources owned by the lifespan.

`create_app` returns the ASGI entry point, `Edge` (rest/edge.py): the guards and the hot path
in front of the FastAPI app (`.api`). FastAPI owns routing, validation and the OpenAPI document;
the data itself is served as the JSON producers stored, spliced into the envelope (see
rest/envelope.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from marketpulse_common.settings import Settings
from marketpulse_gateway import operations
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.dashboard import install_dashboard
from marketpulse_gateway.problems import install_problem_handlers
from marketpulse_gateway.rest.edge import Edge
from marketpulse_gateway.rest.openapi import install_openapi
from marketpulse_gateway.rest.routes import assets, candles, snapshot
from marketpulse_gateway.runtime import Gateway, Tuning, open_gateway
from marketpulse_gateway.stream import route as stream
from marketpulse_gateway.stream.asyncapi import install_asyncapi
from marketpulse_gateway.stream.context import StreamContext

if TYPE_CHECKING:
    from marketpulse_gateway.rest.context import RestContext
    from marketpulse_gateway.stream.context import StreamContext

    def _views(gateway: Gateway) -> tuple[RestContext, StreamContext]:
        """The parts read the running gateway through their own protocols (see each part's
        context.py); this is where mypy checks that the runtime's Gateway provides them."""
        return gateway, gateway


API_VERSION = "1"
DESCRIPTION = """\
Crypto market data from the marketpulse cache: tickers, closed candles, indicators and
sentiment over REST, and live updates over the `/v1/stream` WebSocket, whose protocol is
described by the AsyncAPI document at [/asyncapi.json](/asyncapi.json).

Success bodies are `{"data": …, "meta": {"as_of", "age_s", "stale", "source"}}`; errors are
RFC 9457 `application/problem+json`. Data responses carry a weak `ETag`; send it back in
`If-None-Match` to get `304 Not Modified` while nothing changed.

API keys (required when the deployment sets `MP_API_KEYS_REQUIRED`) go in
`Authorization: Bearer <key>` or `X-API-Key`; the WebSocket also accepts `?api_key=`, as
browsers cannot set headers on it. Requests are rate limited per key (per client address
without one): over the limit is `429` with `Retry-After`.
"""


def create_app(
    settings: Settings,
    *,
    tuning: Tuning | None = None,
    clock: Callable[[], float] = time.time,
) -> Edge:
    """The gateway app; Redis is opened and the stream reader started when it starts serving."""
    tuning = tuning or Tuning()
    catalog = Catalog(settings.assets, settings.timeframes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_gateway(settings, catalog, tuning, clock) as gateway:
            app.state.gateway = gateway
            edge.gateway = gateway
            try:
                yield
            finally:
                edge.gateway = None

    app = FastAPI(
        title="marketpulse gateway",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_openapi(app, catalog, keys_required=settings.api_keys_required)
    install_asyncapi(app, keys_required=settings.api_keys_required, version=API_VERSION)
    for module in (assets, candles, snapshot, operations, stream):
        app.include_router(module.router)
    install_dashboard(app, settings.dashboard_dir)
    edge = Edge(
        app,
        max_body_bytes=settings.max_body_bytes,
        websockets={stream.STREAM_PATH: _stream_directly},
    )
    return edge


async def _stream_directly(scope: Scope, receive: Receive, send: Send, gateway: Any) -> None:
    """`WS /v1/stream` straight from the edge: the gateway's context serves REST and the
    stream alike (runtime.Gateway)."""
    await stream.stream(WebSocket(scope, receive, send), cast(StreamContext, gateway))
