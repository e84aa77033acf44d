"""`/metrics`: the gateway's Prometheus metrics in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from marketpulse_gateway.dependencies import GatewayDep
from marketpulse_gateway.routes.health import read_upstream

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    summary="Prometheus metrics: latency by route, cache hits, WebSocket, stream lag, data age",
)
async def metrics(gateway: GatewayDep) -> Response:
    gateway.metrics.upstream = await read_upstream(gateway)
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)
