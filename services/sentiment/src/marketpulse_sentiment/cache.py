"""Read one asset's cached state (ticker, indicators, forecasts, evaluations, headlines, last
sentiment) at once.

Everything is read in one MULTI, so the state is a single point in time: the ver computed
from the snapshot positions then describes exactly the values that were read. The keys share
the asset's hash tag, so this also holds on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from pydantic import Field, TypeAdapter, ValidationError
from redis.asyncio import Redis

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Evaluation, Forecast, Indicators, Schema, Sentiment, Ticker
from marketpulse_common.keys import Channel, ChannelKind, sentiment_headlines_key
from marketpulse_common.logs import describe, get_logger
from marketpulse_common.publisher import Snapshot, snapshot_from_fields
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.headlines import MAX_HEADLINE_CHARS, MAX_PER_ASSET, clean_headline

log = get_logger(__name__)

M = TypeVar("M", bound=Schema)
# What the news job stores; read back as untrusted (another process wrote it).
StoredHeadlines = TypeAdapter(
    list[Annotated[str, Field(max_length=MAX_HEADLINE_CHARS)]],
)
_PER_TIMEFRAME: list[tuple[ChannelKind, type[Schema]]] = [
    (ChannelKind.INDICATORS, Indicators),
    (ChannelKind.FORECAST, Forecast),
    (ChannelKind.EVALUATION, Evaluation),
]


@dataclass(frozen=True, slots=True)
class AssetState:
    ticker: Ticker | None
    indicators: dict[Timeframe, Indicators]
    positions: list[str]  # stream positions (seq) of the derived snapshots that were read
    last: Sentiment | None
    last_ver: int | None = None  # the ver the last sentiment was published with
    forecasts: dict[Timeframe, Forecast] = field(default_factory=dict)
    evaluations: dict[Timeframe, Evaluation] = field(default_factory=dict)
    headlines: tuple[str, ...] = ()


def _decoded(snapshot: Snapshot | None, model: type[M], channel: Channel) -> M | None:
    """The snapshot's value, or None when missing or unreadable (logged, never fatal)."""
    if snapshot is None:
        return None
    try:
        value = snapshot.decode()
    except PoisonMessage as e:
        log.warning("unreadable snapshot ignored", channel=channel.name, error=describe(e))
        return None
    if not isinstance(value, model):
        log.warning("snapshot of another schema ignored", channel=channel.name, s=snapshot.schema)
        return None
    return value


def decode_headlines(raw: str | None, asset: str) -> tuple[str, ...]:
    """The stored headlines, cleaned again; none when absent or malformed."""
    if not raw:
        return ()
    try:
        stored = StoredHeadlines.validate_json(raw)
    except ValidationError:
        log.warning("unreadable headlines ignored", asset=asset)
        return ()
    cleaned = (clean_headline(h) for h in stored[:MAX_PER_ASSET])
    return tuple(h for h in cleaned if h)


def _derived_channels(asset: str, timeframes: Sequence[Timeframe]) -> list[Channel]:
    return [Channel(kind, asset, tf) for kind, _ in _PER_TIMEFRAME for tf in timeframes]


async def read_asset_state(redis: Redis, asset: str, timeframes: Sequence[Timeframe]) -> AssetState:
    ticker_ch = Channel(ChannelKind.TICKER, asset)
    sentiment_ch = Channel(ChannelKind.SENTIMENT, asset)
    derived = _derived_channels(asset, timeframes)
    async with redis.pipeline(transaction=True) as pipe:
        for channel in [ticker_ch, sentiment_ch, *derived]:
            pipe.hgetall(channel.snapshot_key)
        pipe.get(sentiment_headlines_key(asset))
        *rows, headlines = await pipe.execute()
    snaps = [snapshot_from_fields(row) for row in rows]
    values: dict[ChannelKind, dict[Timeframe, Schema]] = {kind: {} for kind, _ in _PER_TIMEFRAME}
    positions: list[str] = []
    models = dict(_PER_TIMEFRAME)
    for channel, snap in zip(derived, snaps[2:], strict=True):
        value = _decoded(snap, models[channel.kind], channel)
        if value is not None and snap is not None and channel.tf is not None:
            values[channel.kind][channel.tf] = value
            positions.append(snap.seq)
    return AssetState(
        ticker=_decoded(snaps[0], Ticker, ticker_ch),
        indicators=_narrow(values[ChannelKind.INDICATORS], Indicators),
        positions=positions,
        last=_decoded(snaps[1], Sentiment, sentiment_ch),
        last_ver=snaps[1].ver if snaps[1] is not None else None,
        forecasts=_narrow(values[ChannelKind.FORECAST], Forecast),
        evaluations=_narrow(values[ChannelKind.EVALUATION], Evaluation),
        headlines=decode_headlines(headlines, asset),
    )


def _narrow(values: dict[Timeframe, Schema], model: type[M]) -> dict[Timeframe, M]:
    return {tf: v for tf, v in values.items() if isinstance(v, model)}
