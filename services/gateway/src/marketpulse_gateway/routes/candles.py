"""`/v1/assets/{asset}/candles`: closed candles from the cached sorted set, oldest first."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from marketpulse_common.events import Candle
from marketpulse_common.keys import ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.cache import CandleSeries
from marketpulse_gateway.dependencies import (
    DEFAULT_CANDLES,
    AssetDep,
    GatewayDep,
    LimitQuery,
    TimeframeDep,
)
from marketpulse_gateway.envelope import Envelope, meta_for
from marketpulse_gateway.errors import NoData
from marketpulse_gateway.freshness import Freshness, freshness
from marketpulse_gateway.problems import PROBLEM_RESPONSES
from marketpulse_gateway.responses import envelope_response

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
    series = await gateway.cache.candles(asset, tf, limit)
    if not series.members:
        raise NoData(f"no {tf.value} candles are cached for {asset!r} yet")
    fresh = candles_freshness(series, tf, gateway.clock())
    return envelope_response(request, candles_json(series), meta_for(fresh))


def candles_json(series: CandleSeries) -> bytes:
    # Members are Candle JSON as the ingestor stored it: join, never decode.
    return b"[" + ",".join(series.members).encode() + b"]"


def candles_freshness(series: CandleSeries, tf: Timeframe, now: float) -> Freshness:
    produced_at = series.produced_at
    if produced_at is None:
        # Backfilled but not yet announced on the channel: the newest candle's close time
        # is the best statement of how current the set is.
        produced_at = float(orjson.loads(series.members[-1])["t"] + tf.seconds)
    return freshness(ChannelKind.CANDLES, tf, produced_at, now)
