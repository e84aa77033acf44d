"""Read one asset's cached state (ticker, indicators per timeframe, last sentiment) at once.

All snapshots are read in one MULTI, so the state is a single point in time: the ver
computed from the indicator positions then describes exactly the values that were read.
The keys share the asset's hash tag, so this also holds on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from redis.asyncio import Redis

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Indicators, Schema, Sentiment, Ticker
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Snapshot, snapshot_from_fields
from marketpulse_common.timeframes import Timeframe

log = get_logger(__name__)

M = TypeVar("M", bound=Schema)


@dataclass(frozen=True, slots=True)
class AssetState:
    ticker: Ticker | None
    indicators: dict[Timeframe, Indicators]
    positions: list[str]  # stream positions (seq) of the indicator snapshots that were read
    last: Sentiment | None


def _decoded(snapshot: Snapshot | None, model: type[M], channel: Channel) -> M | None:
    """The snapshot's value, or None when missing or unreadable (logged, never fatal)."""
    if snapshot is None:
        return None
    try:
        value = snapshot.decode()
    except PoisonMessage as e:
        log.warning("unreadable snapshot ignored", channel=channel.name, error=str(e))
        return None
    if not isinstance(value, model):
        log.warning("snapshot of another schema ignored", channel=channel.name, s=snapshot.schema)
        return None
    return value


async def read_asset_state(redis: Redis, asset: str, timeframes: Sequence[Timeframe]) -> AssetState:
    ticker_ch = Channel(ChannelKind.TICKER, asset)
    sentiment_ch = Channel(ChannelKind.SENTIMENT, asset)
    indicator_chs = [Channel(ChannelKind.INDICATORS, asset, tf) for tf in timeframes]
    channels = [ticker_ch, sentiment_ch, *indicator_chs]
    async with redis.pipeline(transaction=True) as pipe:
        for channel in channels:
            pipe.hgetall(channel.snapshot_key)
        rows: list[dict[str, str]] = await pipe.execute()
    snaps = [snapshot_from_fields(row) for row in rows]
    indicators: dict[Timeframe, Indicators] = {}
    positions: list[str] = []
    for channel, snap in zip(indicator_chs, snaps[2:], strict=True):
        value = _decoded(snap, Indicators, channel)
        if value is not None and snap is not None and channel.tf is not None:
            indicators[channel.tf] = value
            positions.append(snap.seq)
    return AssetState(
        ticker=_decoded(snaps[0], Ticker, ticker_ch),
        indicators=indicators,
        positions=positions,
        last=_decoded(snaps[1], Sentiment, sentiment_ch),
    )
