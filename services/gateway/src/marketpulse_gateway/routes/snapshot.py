"""`/v1/assets/{asset}/snapshot`: ticker, candles, indicators and sentiment in one body.

For a dashboard's first paint. A part with nothing cached is null; the body's meta is that
of its oldest part (stale if any part is), and `meta.parts` gives each part's own.
"""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.dependencies import (
    DEFAULT_CANDLES,
    AssetDep,
    GatewayDep,
    LimitQuery,
    TimeframeDep,
)
from marketpulse_gateway.envelope import (
    CACHE_SOURCE,
    SnapshotEnvelope,
    SnapshotMeta,
    part_meta,
)
from marketpulse_gateway.errors import NoData
from marketpulse_gateway.freshness import Freshness, freshness, oldest
from marketpulse_gateway.problems import PROBLEM_RESPONSES
from marketpulse_gateway.responses import envelope_response
from marketpulse_gateway.routes.candles import candles_freshness, candles_json

router = APIRouter(prefix="/v1/assets", tags=["assets"])

Part = tuple[orjson.Fragment, Freshness]


@router.get(
    "/{asset}/snapshot",
    response_model=SnapshotEnvelope,
    responses=PROBLEM_RESPONSES,
    summary="Ticker, candles, indicators and sentiment in one body",
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
        "sentiment": Channel(ChannelKind.SENTIMENT, asset),
    }
    snapshots, series = await asyncio.gather(
        gateway.cache.snapshots(list(channels.values())),
        gateway.cache.candles(asset, tf, limit),
    )
    now = gateway.clock()
    parts: dict[str, Part] = {
        name: (orjson.Fragment(snap.data), freshness(ch.kind, ch.tf, snap.ts, now))
        for (name, ch), snap in zip(channels.items(), snapshots, strict=True)
        if snap is not None
    }
    if series.members:
        fresh = candles_freshness(series, tf, now)
        parts["candles"] = (orjson.Fragment(candles_json(series)), fresh)
    if not parts:
        raise NoData(f"nothing is cached for {asset!r} yet; its producers may be starting")
    return envelope_response(request, _data(parts), _meta(parts))


def _data(parts: dict[str, Part]) -> bytes:
    order = ("ticker", "candles", "indicators", "sentiment")
    return orjson.dumps({name: parts[name][0] if name in parts else None for name in order})


def _meta(parts: dict[str, Part]) -> SnapshotMeta:
    overall = oldest([fresh for _, fresh in parts.values()])
    assert overall is not None  # parts is not empty
    return SnapshotMeta(
        as_of=overall.as_of,
        age_s=overall.age_s,
        stale=overall.stale,
        source=CACHE_SOURCE,
        parts={name: part_meta(fresh) for name, (_, fresh) in parts.items()},
    )
