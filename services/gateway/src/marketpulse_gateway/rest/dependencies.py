"""Request dependencies of the REST routes: the running gateway, and path/query parameters
checked against its catalog.

Shape errors (asset pattern, timeframe enum, limit bounds) are FastAPI validation → 422;
well-formed values this gateway does not serve raise the gateway's own errors (404 / 422).
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Query
from starlette.requests import HTTPConnection

from marketpulse_common.keys import ASSET_PATTERN
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.catalog import DEFAULT_TIMEFRAME, MAX_CANDLES
from marketpulse_gateway.rest.context import RestContext


def get_gateway(connection: HTTPConnection) -> RestContext:
    # Put there by the app's lifespan (app.py) while the gateway runs.
    return cast(RestContext, connection.app.state.gateway)


GatewayDep = Annotated[RestContext, Depends(get_gateway)]


def tracked_asset(
    gateway: GatewayDep,
    asset: Annotated[
        str,
        Path(pattern=ASSET_PATTERN, description="CoinGecko coin id, one of MP_ASSETS."),
    ],
) -> str:
    return gateway.catalog.check_asset(asset)


def served_timeframe(
    gateway: GatewayDep,
    tf: Annotated[
        Timeframe, Query(description="Candle timeframe; must be one of MP_TIMEFRAMES.")
    ] = DEFAULT_TIMEFRAME,
) -> Timeframe:
    return gateway.catalog.check_timeframe(tf)


AssetDep = Annotated[str, Depends(tracked_asset)]
TimeframeDep = Annotated[Timeframe, Depends(served_timeframe)]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_CANDLES, description="How many of the newest closed candles.")
]
