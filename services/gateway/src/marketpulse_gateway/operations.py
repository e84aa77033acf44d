"""The operations routes: `/healthz` (is the process alive), `/readyz` (should it get
traffic), and `/metrics` (Prometheus). (`/` is the dashboard, or the API docs without one:
dashboard.py.) The edge never guards them (rest/edge.py)."""

from __future__ import annotations

import time
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.responses import Response

from marketpulse_common.keys import Channel
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.problems import Problem, problem_response
from marketpulse_gateway.readiness import Readiness, RedisReport, assess
from marketpulse_gateway.runtime import Gateway
from marketpulse_gateway.upstream import UpstreamReport, parse_status

router = APIRouter(tags=["operations"])


def get_gateway(connection: HTTPConnection) -> Gateway:
    # Put there by the app's lifespan (app.py) while the gateway runs.
    return cast(Gateway, connection.app.state.gateway)


GatewayDep = Annotated[Gateway, Depends(get_gateway)]

# An orchestrator probing an unready gateway may try again this soon.
READY_RETRY_AFTER_S = 5


class Liveness(BaseModel):
    status: Literal["ok"]


@router.get(
    "/healthz",
    response_model=Liveness,
    responses={503: {"model": Problem, "description": "The stream reader has died."}},
    summary="Liveness: the process serves and its stream reader runs",
)
async def healthz(gateway: GatewayDep) -> Response:
    if not gateway.reader_alive:
        # Only a restart brings a dead background task back: say so to the orchestrator.
        detail = "the stream reader has stopped; restart this gateway"
        return problem_response(503, "not-alive", "Not alive", detail)
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Problem, "description": "Not ready; the body says why."}},
    summary="Readiness: Redis reachable, streams followed, data cached (with freshness)",
)
async def readyz(gateway: GatewayDep) -> Response:
    redis, produced = await _probe(gateway)
    running = gateway.reader_alive and gateway.reader.ready.is_set()
    report = assess(
        gateway.catalog,
        redis,
        reader_running=running,
        produced_at=produced,
        now=gateway.clock(),
        upstream=await read_upstream(gateway),
    )
    if report.ready:
        return Response(report.model_dump_json(), media_type="application/json")
    return problem_response(
        503,
        "not-ready",
        "Not ready",
        "; ".join(report.reasons),
        headers={"Retry-After": str(READY_RETRY_AFTER_S)},
        **report.model_dump(mode="json"),
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    summary="Prometheus metrics: latency by route, cache hits, WebSocket, stream lag, data age",
)
async def metrics(gateway: GatewayDep) -> Response:
    gateway.metrics.upstream = await read_upstream(gateway)
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def read_upstream(gateway: Gateway) -> UpstreamReport | None:
    """The ingestor's record of the upstream source; unknown while Redis is down."""
    source = gateway.settings.source
    if not gateway.store.reachable:
        return None
    try:
        return parse_status(source, await gateway.cache.status(source))
    except StoreUnavailable:
        return None


async def _probe(gateway: Gateway) -> tuple[RedisReport, dict[Channel, float | None]]:
    """Redis's state and every value's age: from Redis, or from memory when it is down."""
    channels = gateway.catalog.cached_channels
    # A known outage answers at once: a probe waiting for a timeout would itself time out.
    if gateway.store.reachable:
        try:
            started = time.perf_counter()
            await gateway.cache.ping()
            latency_ms = round((time.perf_counter() - started) * 1e3, 3)
            produced = await gateway.cache.produced_at(channels)
            return (
                RedisReport(reachable=True, latency_ms=latency_ms),
                dict(zip(channels, produced, strict=True)),
            )
        except StoreUnavailable:
            pass
    return RedisReport(reachable=False), {ch: gateway.hot.produced_at(ch) for ch in channels}
