"""`/v1/assets/{asset}/snapshot`: every resource of one asset in one body.

For a dashboard's first paint: ticker, candles, indicators, forecast, evaluation and
sentiment. A part with nothing cached is null; the body's meta is that of its oldest part
(stale if any part is), and `meta.parts` gives each part's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.catalog import DEFAULT_CANDLES
from marketpulse_gateway.errors import NoData, StoreUnavailable
from marketpulse_gateway.problems import PROBLEM_RESPONSES
from marketpulse_gateway.rest.dependencies import (
    AssetDep,
    GatewayDep,
    LimitQuery,
    TimeframeDep,
)
from marketpulse_gateway.rest.envelope import ReadyBody, SnapshotEnvelope
from marketpulse_gateway.rest.layers import Layered, compose, read_candles, read_values
from marketpulse_gateway.rest.responses import composed_response

router = APIRouter(prefix="/v1/assets", tags=["assets"])

ORDER = ("ticker", "candles", "indicators", "forecast", "evaluation", "sentiment")


@router.get(
    "/{asset}/snapshot",
    response_model=SnapshotEnvelope,
    responses=PROBLEM_RESPONSES,
    summary="Ticker, candles, indicators, forecast, evaluation and sentiment in one body",
)
async def snapshot(
    request: Request,
    gateway: GatewayDep,
    asset: AssetDep,
    tf: TimeframeDep,
    limit: LimitQuery = DEFAULT_CANDLES,
) -> Response:
    channels = {
        "ticker": Channel(ChannelKind.TICKER, asset),
        "indicators": Channel(ChannelKind.INDICATORS, asset, tf),
        "forecast": Channel(ChannelKind.FORECAST, asset, tf),
        "evaluation": Channel(ChannelKind.EVALUATION, asset, tf),
        "sentiment": Channel(ChannelKind.SENTIMENT, asset),
    }
    values, candles = await asyncio.gather(
        _or_nothing(read_values(gateway, list(channels.values())), len(channels)),
        _or_nothing(read_candles(gateway, asset, tf, limit), 1),
    )
    parts: dict[str, ReadyBody | None] = dict(zip(channels, values.values, strict=True))
    parts["candles"] = candles.values[0]
    if not any(parts.values()):
        if values.stale or candles.stale:
            raise StoreUnavailable("Redis is unreachable and nothing is held for this asset")
        raise NoData(f"nothing is cached for {asset!r} yet; its producers may be starting")
    composed = compose(
        {name: parts[name] for name in ORDER},
        gateway.clock(),
        stale=values.stale or candles.stale,
    )
    return composed_response(request, composed.data, composed.meta_with_parts())


async def _or_nothing(read: Awaitable[Layered], size: int) -> Layered:
    """A read that finds nothing during an outage is an absent part, not a failed request."""
    try:
        return await read
    except StoreUnavailable:
        return Layered([None] * size, stale=True)
