"""`/v1/assets` and the single-value resources of one asset: ticker, indicators, sentiment."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from marketpulse_common.events import Indicators, Sentiment, Ticker
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.dependencies import AssetDep, GatewayDep, TimeframeDep
from marketpulse_gateway.envelope import AssetSummary, Envelope, meta_for
from marketpulse_gateway.errors import NoData
from marketpulse_gateway.freshness import freshness, oldest
from marketpulse_gateway.problems import PROBLEM_RESPONSES
from marketpulse_gateway.responses import envelope_response
from marketpulse_gateway.runtime import Gateway

router = APIRouter(prefix="/v1/assets", tags=["assets"])


@router.get(
    "",
    response_model=Envelope[list[AssetSummary]],
    responses={503: PROBLEM_RESPONSES[503]},
    summary="Tracked assets with their latest ticker",
)
async def list_assets(request: Request, gateway: GatewayDep) -> Response:
    channels = [Channel(ChannelKind.TICKER, asset) for asset in gateway.catalog.assets]
    snapshots = await gateway.cache.snapshots(channels)
    now = gateway.clock()
    data = orjson.dumps(
        [
            {"asset": ch.asset, "ticker": orjson.Fragment(snap.data) if snap else None}
            for ch, snap in zip(channels, snapshots, strict=True)
        ]
    )
    present = [freshness(ChannelKind.TICKER, None, s.ts, now) for s in snapshots if s]
    return envelope_response(request, data, meta_for(oldest(present)))


@router.get(
    "/{asset}/ticker",
    response_model=Envelope[Ticker],
    responses=PROBLEM_RESPONSES,
    summary="Latest ticker: price, 24 h change, volume, market cap",
)
async def ticker(request: Request, gateway: GatewayDep, asset: AssetDep) -> Response:
    return await _channel_value(request, gateway, Channel(ChannelKind.TICKER, asset))


@router.get(
    "/{asset}/indicators",
    response_model=Envelope[Indicators],
    responses=PROBLEM_RESPONSES,
    summary="Latest indicator values and the candle window they were computed from",
)
async def indicators(
    request: Request, gateway: GatewayDep, asset: AssetDep, tf: TimeframeDep
) -> Response:
    return await _channel_value(request, gateway, Channel(ChannelKind.INDICATORS, asset, tf))


@router.get(
    "/{asset}/sentiment",
    response_model=Envelope[Sentiment],
    responses=PROBLEM_RESPONSES,
    summary="Latest sentiment summary",
)
async def sentiment(request: Request, gateway: GatewayDep, asset: AssetDep) -> Response:
    return await _channel_value(request, gateway, Channel(ChannelKind.SENTIMENT, asset))


async def _channel_value(request: Request, gateway: Gateway, channel: Channel) -> Response:
    snapshot = await gateway.cache.snapshot(channel)
    if snapshot is None:
        raise NoData(f"nothing is cached for {channel.name} yet; its producer may be starting")
    fresh = freshness(channel.kind, channel.tf, snapshot.ts, gateway.clock())
    return envelope_response(request, snapshot.data.encode(), meta_for(fresh))
