"""`/v1/assets` and the single-value resources of one asset: ticker, indicators, forecast,
evaluation and sentiment.

A request reaches these routes only when the hot path (rest/edge.py) could not answer it: the
value is not in memory yet, or the request is unusual. They read Redis (L2), keep what they
read in memory (L1) for the next request, and while Redis is unreachable serve the
last-known-good value marked stale instead of failing.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from marketpulse_common.events import Evaluation, Forecast, Indicators, Sentiment, Ticker
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.errors import NoData, SentimentOff
from marketpulse_gateway.problems import PROBLEM_RESPONSES
from marketpulse_gateway.rest.context import RestContext
from marketpulse_gateway.rest.dependencies import AssetDep, GatewayDep, TimeframeDep
from marketpulse_gateway.rest.envelope import AssetSummary, Envelope
from marketpulse_gateway.rest.layers import compose, read_values
from marketpulse_gateway.rest.responses import composed_response, ready_response

router = APIRouter(prefix="/v1/assets", tags=["assets"])


@router.get(
    "",
    response_model=Envelope[list[AssetSummary]],
    responses={503: PROBLEM_RESPONSES[503]},
    summary="Tracked assets with their latest ticker and the timeframes served",
)
async def list_assets(request: Request, gateway: GatewayDep) -> Response:
    channels = [Channel(ChannelKind.TICKER, asset) for asset in gateway.catalog.assets]
    timeframes = [tf.value for tf in gateway.catalog.timeframes]
    read = await read_values(gateway, channels)
    data = orjson.dumps(
        [
            {
                "asset": ch.asset,
                "ticker": orjson.Fragment(ready.data) if ready else None,
                "timeframes": timeframes,
            }
            for ch, ready in zip(channels, read.values, strict=True)
        ]
    )
    composed = compose(
        {ch.asset: ready for ch, ready in zip(channels, read.values, strict=True)},
        gateway.clock(),
        stale=read.stale,
    )
    return composed_response(request, data, composed.meta)


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
    "/{asset}/forecast",
    response_model=Envelope[Forecast],
    responses=PROBLEM_RESPONSES,
    summary="Latest forecast with its explanation and model version",
)
async def forecast(
    request: Request, gateway: GatewayDep, asset: AssetDep, tf: TimeframeDep
) -> Response:
    return await _channel_value(request, gateway, Channel(ChannelKind.FORECAST, asset, tf))


@router.get(
    "/{asset}/evaluation",
    response_model=Envelope[Evaluation],
    responses=PROBLEM_RESPONSES,
    summary="Walk-forward evaluation of the forecaster against its baselines",
)
async def evaluation(
    request: Request, gateway: GatewayDep, asset: AssetDep, tf: TimeframeDep
) -> Response:
    return await _channel_value(request, gateway, Channel(ChannelKind.EVALUATION, asset, tf))


@router.get(
    "/{asset}/sentiment",
    response_model=Envelope[Sentiment],
    responses=PROBLEM_RESPONSES,
    summary="Latest sentiment summary (404 when sentiment is off and nothing is cached)",
)
async def sentiment(request: Request, gateway: GatewayDep, asset: AssetDep) -> Response:
    try:
        return await _channel_value(request, gateway, Channel(ChannelKind.SENTIMENT, asset))
    except NoData:
        if gateway.settings.sentiment == "off":
            raise SentimentOff("sentiment is turned off (MP_SENTIMENT_PROVIDER=off)") from None
        raise


async def _channel_value(request: Request, gateway: RestContext, channel: Channel) -> Response:
    read = await read_values(gateway, [channel])
    ready = read.values[0]
    if ready is None:
        raise NoData(f"nothing is cached for {channel.name} yet; its producer may be starting")
    return ready_response(request, ready, gateway.clock(), stale=read.stale)
