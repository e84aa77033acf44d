"""`/v1/assets/{asset}/candles`: closed candles from the cached sorted set, oldest first."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from marketpulse_common.events import Candle
from marketpulse_gateway.catalog import DEFAULT_CANDLES
from marketpulse_gateway.errors import NoData
from marketpulse_gateway.problems import PROBLEM_RESPONSES
from marketpulse_gateway.rest.dependencies import AssetDep, GatewayDep, LimitQuery, TimeframeDep
from marketpulse_gateway.rest.envelope import Envelope
from marketpulse_gateway.rest.layers import read_candles
from marketpulse_gateway.rest.responses import ready_response

router = APIRouter(prefix="/v1/assets", tags=["assets"])


@router.get(
    "/{asset}/candles",
    response_model=Envelope[list[Candle]],
    responses=PROBLEM_RESPONSES,
    summary="Closed OHLC(V) candles, oldest first",
)
async def candles(
    request: Request,
    gateway: GatewayDep,
    asset: AssetDep,
    tf: TimeframeDep,
    limit: LimitQuery = DEFAULT_CANDLES,
) -> Response:
    read = await read_candles(gateway, asset, tf, limit)
    ready = read.values[0]
    if ready is None:
        raise NoData(f"no {tf.value} candles are cached for {asset!r} yet")
    return ready_response(request, ready, gateway.clock(), stale=read.stale)
