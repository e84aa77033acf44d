"""The edge, the gateway's ASGI entry point: guards every HTTP request, answers hot GETs from L1.

A plain ASGI callable in front of the FastAPI app, because that is the fastest path FastAPI
can host (a FastAPI route returning a dict runs at ~0.1× a bare ASGI app; this path at
~0.82×, BENCHMARKS.md).

Nearly every request is a plain GET of a cached resource by a client within its limits: it
is answered by `_plain_hot_get` in one synchronous pass (headers scanned once, the API key
and rate limit decided from memory, the ready bytes rendered) and two sends. Its cost is
counted in Python frames, each worth a measurable share of a ~20 µs request: the answer
carries its latency series, and a rendering's ASGI messages are built once. Anything else
takes the full path, in order:

1. a body over MP_MAX_BODY_BYTES (by Content-Length), or of unannounced length → 413;
2. a CORS preflight → answered here (browsers send no credentials on a preflight);
3. operations routes (health, metrics, docs) and the dashboard's files (`/`, `/ui/…`) →
   FastAPI, unguarded, so probes never 401/429 and a browser opening the address finds the
   dashboard (which asks for a key when one is needed);
4. API key and rate limit (admission.Admission), asking Redis if need be → 401 / 429 / 503;
5. a GET the in-process cache can answer (hot_cache.py) → the ready bytes, or 304;
6. everything else → FastAPI, which owns routing, validation, the OpenAPI document and every
   error message. An L1 miss, an unusual query, a HEAD: all simply go on.

Allowed cross-origin requests get their CORS headers here, on every path. Lifespan messages
go straight to FastAPI, and so do WebSocket handshakes, except those of the stream itself
(`WS /v1/stream`), which go straight to its handler (the stream route checks Origin and key
itself): a connection holds its ASGI call for its whole life, and FastAPI's routing, its
middleware and the dependency machinery kept 18 more coroutines, three exit stacks and their
closures alive per client, about 9 KB of the gateway's memory per connection.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, cast

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from marketpulse_gateway.admission import Denial, Header, key_from_headers
from marketpulse_gateway.dashboard import UI_PREFIX
from marketpulse_gateway.metrics import UNMATCHED_ROUTE, HistogramSeries
from marketpulse_gateway.problems import denial_response
from marketpulse_gateway.rest.context import RestContext
from marketpulse_gateway.rest.envelope import CACHE_CONTROL, Rendered
from marketpulse_gateway.rest.etag import not_modified
from marketpulse_gateway.rest.hot_cache import Hit

# Never guarded: orchestrators and scrapers must reach them whatever the keys and limits.
OPERATIONS_PATHS = frozenset(
    {
        "/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/asyncapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)
# The `route` label of responses the edge gives itself (413, preflight, 401, 429).
EDGE_ROUTE = "edge"
_CACHE_CONTROL = (b"cache-control", CACHE_CONTROL.encode())
_NO_HEADERS: list[Header] = []
_EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}


class _Role(enum.Enum):
    """What a request header means to the plain hot path."""

    IF_NONE_MATCH = enum.auto()
    AUTHORIZATION = enum.auto()
    X_API_KEY = enum.auto()
    NOT_PLAIN = enum.auto()  # CORS needs its headers, a body its limit: the full path


_HOT_HEADERS = {
    b"if-none-match": _Role.IF_NONE_MATCH,
    b"authorization": _Role.AUTHORIZATION,
    b"x-api-key": _Role.X_API_KEY,
    b"origin": _Role.NOT_PLAIN,
    b"content-length": _Role.NOT_PLAIN,
    b"transfer-encoding": _Role.NOT_PLAIN,
}
# A hot answer: the response start and body messages, and the latency series they count in.
HotAnswer = tuple[Message, Message, HistogramSeries]


@dataclass(slots=True)
class RequestHeads:
    """The request headers the edge acts on (latin-1 decoded, as HTTP defines them)."""

    if_none_match: str | None = None
    origin: str | None = None
    authorization: str | None = None
    x_api_key: str | None = None
    content_length: str | None = None
    transfer_encoding: str | None = None
    preflight_method: str | None = None
    preflight_headers: str | None = None

    @property
    def api_key(self) -> str | None:
        return key_from_headers(self.authorization, self.x_api_key)

    def body_too_large(self, limit: int) -> bool:
        # A body of unannounced length (chunked) cannot be checked up front; the API reads
        # no bodies at all, so it is refused rather than streamed in to be counted.
        if self.transfer_encoding is not None:
            return True
        length = self.content_length
        if length is None:
            return False
        return not length.isdigit() or int(length) > limit


_FIELDS = {
    b"if-none-match": "if_none_match",
    b"origin": "origin",
    b"authorization": "authorization",
    b"x-api-key": "x_api_key",
    b"content-length": "content_length",
    b"transfer-encoding": "transfer_encoding",
    b"access-control-request-method": "preflight_method",
    b"access-control-request-headers": "preflight_headers",
}


def read_heads(raw: list[tuple[bytes, bytes]]) -> RequestHeads:
    heads = RequestHeads()
    for name, value in raw:
        field = _FIELDS.get(name)
        if field is not None:
            setattr(heads, field, value.decode("latin-1"))
    return heads


# A WebSocket endpoint the edge calls itself once the gateway runs, with the gateway's context
# (the composing root, app.py, hands the stream's in: rest/ never imports stream/).
DirectWebSocket = Callable[[Scope, Receive, Send, Any], Awaitable[None]]


class Edge:
    def __init__(
        self,
        api: FastAPI,
        *,
        max_body_bytes: int,
        websockets: Mapping[str, DirectWebSocket] | None = None,
    ) -> None:
        self.api = api
        self._max_body = max_body_bytes
        self._websockets = dict(websockets or {})
        # Set by the app's lifespan while the gateway runs; until then everything is FastAPI's.
        self.gateway: RestContext | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self.gateway
        if gateway is None or scope["type"] != "http":
            direct = self._websockets.get(scope["path"]) if scope["type"] == "websocket" else None
            if gateway is not None and direct is not None:
                await direct(scope, receive, send, gateway)
                return
            await self.api(scope, receive, send)
            return
        started = perf_counter()
        if scope["method"] == "GET":
            hot = _plain_hot_get(gateway, scope)
            if hot is not None:
                # The common case, decided without awaiting anything: two sends and done.
                await send(hot[0])
                await send(hot[1])
                hot[2].observe(perf_counter() - started)
                return
        heads = read_heads(scope["headers"])
        cors = gateway.access.cors.response_headers(heads.origin) if heads.origin else _NO_HEADERS
        status, route = await self._answer(gateway, scope, receive, send, heads, cors)
        gateway.metrics.observe_request(route, scope["method"], status, perf_counter() - started)

    async def _answer(
        self,
        gateway: RestContext,
        scope: Scope,
        receive: Receive,
        send: Send,
        heads: RequestHeads,
        cors: list[Header],
    ) -> tuple[int, str]:
        """Everything but an admitted hot GET: guards in full, then the hot path or FastAPI."""
        method, path = scope["method"], scope["path"]
        if heads.body_too_large(self._max_body):
            too_large = _body_too_large(self._max_body)
            return await _refuse(send, scope, receive, too_large, cors), EDGE_ROUTE
        if method == "OPTIONS" and heads.origin and heads.preflight_method:
            return await _preflight(gateway, send, heads), EDGE_ROUTE
        if path not in OPERATIONS_PATHS and not path.startswith(UI_PREFIX):
            denial = await gateway.access.admit(heads.api_key, _host(scope))
            if denial is not None:
                return await _refuse(send, scope, receive, denial, cors), EDGE_ROUTE
            hit = gateway.hot.lookup(path, scope["query_string"]) if method == "GET" else None
            if hit is not None:
                gateway.metrics.l1_hit.inc()
                start, body, _ = _hit_messages(gateway, hit, heads.if_none_match, cors)
                await send(start)
                await send(body)
                return start["status"], hit[1]
        return await self._forward(scope, receive, send, cors)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, cors: list[Header]
    ) -> tuple[int, str]:
        status = 500

        async def send_on(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if cors:
                    message = {**message, "headers": [*message.get("headers", ()), *cors]}
            await send(message)

        await self.api(scope, receive, send_on)
        route: Any = scope.get("route")
        return status, getattr(route, "path", UNMATCHED_ROUTE)


def _plain_hot_get(gateway: RestContext, scope: Scope) -> HotAnswer | None:
    """A GET the in-process cache answers and memory admits, as its two ASGI messages.

    Written for speed, as it runs for nearly every request: one pass over the headers, and
    any request that needs more than this (CORS, a body, a refusal, Redis) is None here and
    gets the full path.
    """
    if_none_match = authorization = x_api_key = None
    for name, value in scope["headers"]:
        role = _HOT_HEADERS.get(name)
        if role is not None:
            if role is _Role.IF_NONE_MATCH:
                if_none_match = value
            elif role is _Role.AUTHORIZATION:
                authorization = value
            elif role is _Role.X_API_KEY:
                x_api_key = value
            else:
                return None
    hit = gateway.hot.lookup(scope["path"], scope["query_string"])
    if hit is None:
        return None
    client = scope.get("client")
    host = client[0] if client else None
    if authorization is None and x_api_key is None:
        if not gateway.access.anonymous_admitted_now(host):
            return None
    else:
        presented = key_from_headers(_text(authorization), _text(x_api_key))
        if not gateway.access.admitted_now(presented, host):
            return None
    gateway.metrics.l1_hit.inc()
    ready, route = hit
    if if_none_match is None and gateway.store.reachable:
        # Nearly every read: a 200 whose messages were built once for this rendering.
        rendered = ready.render(gateway.clock())
        return cast(HotAnswer, rendered.answer or _plain_answer(gateway, rendered, route))
    return _hit_messages(gateway, hit, _text(if_none_match), _NO_HEADERS)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _host(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _hit_messages(
    gateway: RestContext, hit: Hit, if_none_match: str | None, cors: list[Header]
) -> HotAnswer:
    ready, route = hit
    rendered = ready.render(gateway.clock(), force_stale=not gateway.store.reachable)
    if if_none_match is not None and not_modified(if_none_match, rendered.etag.decode()):
        headers = [(b"etag", rendered.etag), _CACHE_CONTROL, *cors]
        start = {"type": "http.response.start", "status": 304, "headers": headers}
        return start, _EMPTY_BODY, _latency(gateway, route, "304")
    if not cors:
        return cast(HotAnswer, rendered.answer or _plain_answer(gateway, rendered, route))
    return _ok_messages(gateway, rendered.headers + cors, rendered.body, route)


def _plain_answer(gateway: RestContext, rendered: Rendered, route: str) -> HotAnswer:
    """The plain 200 of a rendering, built on its first request and kept on it: ASGI servers
    only read the messages they are given, so every later request sends these as they are."""
    rendered.answer = _ok_messages(gateway, rendered.headers, rendered.body, route)
    return cast(HotAnswer, rendered.answer)


def _ok_messages(gateway: RestContext, headers: list[Header], body: bytes, route: str) -> HotAnswer:
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    return start, {"type": "http.response.body", "body": body}, _latency(gateway, route, "200")


def _latency(gateway: RestContext, route: str, status: str) -> HistogramSeries:
    return gateway.metrics.request_duration.child((route, "GET", status))


async def _refuse(
    send: Send, scope: Scope, receive: Receive, denial: Denial, cors: list[Header]
) -> int:
    await denial_response(denial, cors)(scope, receive, send)
    return denial.status


async def _preflight(gateway: RestContext, send: Send, heads: RequestHeads) -> int:
    assert heads.origin is not None and heads.preflight_method is not None
    allowed = gateway.access.cors.preflight_headers(
        heads.origin, heads.preflight_method, heads.preflight_headers
    )
    if allowed is None:
        # No CORS headers: the browser refuses the real request and tells its developer why.
        status, headers = 403, [(b"vary", b"Origin")]
    else:
        status, headers = 204, allowed
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
    return status


def _body_too_large(limit: int) -> Denial:
    return Denial(
        413,
        "body-too-large",
        "Request body too large",
        f"Request bodies are limited to {limit} bytes; this API takes none on reads.",
    )
