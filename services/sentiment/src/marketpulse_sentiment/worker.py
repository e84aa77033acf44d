"""Turn an indicators event into (at most) one new sentiment for its asset.

The event only says "asset A changed"; the worker then reads A's whole cached state, so
every replica, whichever event it got, computes from the same source of truth. Two checks
keep the output idempotent and cheap:
- the input hash: an input (rounded) equal to the stored sentiment's is not assessed again;
- the ver (see version.py): a state not newer than the stored one is never published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis

from marketpulse_common.consumer import StreamMessage
from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Indicators, decode_payload
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Published, Publisher
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.cache import read_asset_state
from marketpulse_sentiment.inputs import build_input, input_hash
from marketpulse_sentiment.providers import Provider
from marketpulse_sentiment.version import version_of

log = get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def event_asset(msg: StreamMessage) -> str:
    """The asset an indicators event is about; PoisonMessage for anything else."""
    try:
        channel = Channel.from_stream_key(msg.stream)
    except ValueError as e:
        raise PoisonMessage(f"not a channel stream: {msg.stream}") from e
    if channel.kind is not ChannelKind.INDICATORS:
        raise PoisonMessage(f"not an indicators stream: {msg.stream}")
    value = decode_payload(msg.fields.get("s", ""), msg.fields.get("d", ""))
    if not isinstance(value, Indicators) or value.asset != channel.asset:
        raise PoisonMessage(f"event on {channel.name} is not that channel's indicators")
    return channel.asset


class SentimentWorker:
    def __init__(
        self,
        redis: Redis,
        provider: Provider,
        timeframes: Sequence[Timeframe],
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._redis = redis
        self._provider = provider
        self._timeframes = list(timeframes)
        self._publisher = Publisher(redis)
        self._clock = clock

    async def handle(self, msg: StreamMessage) -> None:
        """StreamConsumer handler: refresh the event's asset."""
        await self.refresh(event_asset(msg))

    async def refresh(self, asset: str) -> Published | None:
        """Assess `asset` from the cache and publish if its input changed; None if not."""
        state = await read_asset_state(self._redis, asset, self._timeframes)
        if not state.indicators:
            log.debug("no indicators cached; nothing to read", asset=asset)
            return None
        inp = build_input(asset, state.ticker, state.indicators)
        digest = input_hash(inp, self._provider.name)
        if state.last is not None and state.last.input_hash == digest:
            log.debug("input unchanged; sentiment kept", asset=asset, input_hash=digest)
            return None
        sentiment = await self._provider.assess(inp, input_hash=digest, now=self._clock())
        channel = Channel(ChannelKind.SENTIMENT, asset)
        published = await self._publisher.publish(
            channel, sentiment, ver=version_of(state.positions)
        )
        if published is None:
            log.debug("a newer sentiment is already stored", asset=asset, input_hash=digest)
            return None
        log.info(
            "sentiment published",
            asset=asset,
            label=sentiment.label,
            score=sentiment.score,
            provider=sentiment.provider,
            seq=published.seq,
        )
        return published
