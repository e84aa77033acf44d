"""Turn an indicators or forecast event into (at most) one new sentiment for its asset.

The event only says "asset A changed"; the worker then reads A's whole cached state, so
every replica, whichever event it got, computes from the same source of truth. Checks that
cost nothing come before the provider, which may cost money:
- the ver (see version.py): a state not newer than the stored one (a re-delivered or
  reclaimed event, a slower replica) is dropped before anything is asked;
- the input hash: an input (rounded) equal to the stored sentiment's is not assessed again.

When the provider cannot answer (budget, cooldown, outage) the last reading stays served:
the gateway marks it stale by age, and no other service notices. Only when there is no
reading yet, or the stored one is already a fallback, is the rule-based reading published
in its place (`fallback=True`), stamped with the heuristic's own input hash so the model is
asked again as soon as it may be. Refused its turn at the asset ("interval": another replica
is asking, or asked within the minimum interval), the worker publishes nothing at all: that
replica publishes, and a fallback from here would carry a newer ver than its answer, which
would then be dropped as stale.

With tracing on, the refresh continues the trace of the event that triggered it (its `tp`),
and the sentiment it publishes carries the refresh's own context on to the gateway's fan-out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis

from marketpulse_common.consumer import StreamMessage
from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Sentiment
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import ChannelField, Published, Publisher, entry_from_fields
from marketpulse_common.timeframes import Timeframe
from marketpulse_common.tracing import span, span_from_entry
from marketpulse_sentiment import heuristic
from marketpulse_sentiment.cache import AssetState, read_asset_state
from marketpulse_sentiment.errors import INTERVAL, ProviderUnavailable
from marketpulse_sentiment.inputs import SentimentInput, build_input, input_hash
from marketpulse_sentiment.metrics import MODEL_SKIPPED, PUBLISHED
from marketpulse_sentiment.providers import Provider
from marketpulse_sentiment.version import version_of

log = get_logger(__name__)

# The channels whose events trigger a refresh (evaluations change slowly and are read anyway).
TRIGGER_KINDS = (ChannelKind.INDICATORS, ChannelKind.FORECAST)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def event_asset(msg: StreamMessage) -> str:
    """The asset an indicators or forecast event is about; PoisonMessage for anything else."""
    try:
        channel = Channel.from_stream_key(msg.stream)
    except ValueError as e:
        raise PoisonMessage(f"not a channel stream: {msg.stream}") from e
    if channel.kind not in TRIGGER_KINDS:
        raise PoisonMessage(f"not an indicators or forecast stream: {msg.stream}")
    entry = entry_from_fields(msg.fields)
    value = entry.decode()
    if getattr(value, "asset", None) != channel.asset or getattr(value, "tf", None) != channel.tf:
        raise PoisonMessage(f"event on {channel.name} is not about that channel")
    if entry.schema.split("/")[0] != channel.kind.value:
        raise PoisonMessage(f"event on {channel.name} has schema {entry.schema}")
    return channel.asset


def fallback_of(inp: SentimentInput, now: datetime) -> Sentiment:
    """The rule-based reading standing in for the model's, marked as such."""
    digest = input_hash(inp, heuristic.PROVIDER)
    return heuristic.assess(inp, input_hash=digest, now=now).model_copy(update={"fallback": True})


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
        asset = event_asset(msg)
        with span_from_entry(
            msg.fields.get(ChannelField.TRACE, ""), "sentiment refresh", asset=asset
        ):
            await self.refresh(asset)

    async def refresh(self, asset: str) -> Published | None:
        """Assess `asset` from the cache and publish if its input changed; None if not."""
        state = await read_asset_state(self._redis, asset, self._timeframes)
        if not state.indicators:
            log.debug("no indicators cached; nothing to read", asset=asset)
            return None
        ver = version_of(state.positions)
        if state.last_ver is not None and state.last_ver >= ver:
            log.debug("state not newer than the stored sentiment", asset=asset, ver=ver)
            return None
        inp = _input_of(asset, state)
        digest = input_hash(inp, self._provider.name)
        if state.last is not None and state.last.input_hash == digest:
            log.debug("input unchanged; sentiment kept", asset=asset, input_hash=digest)
            return None
        sentiment = await self._assess(inp, digest, state.last)
        if sentiment is None:
            return None
        return await self._publish(asset, sentiment, ver)

    async def _assess(
        self, inp: SentimentInput, digest: str, last: Sentiment | None
    ) -> Sentiment | None:
        now = self._clock()
        try:
            with span("sentiment assess", provider=self._provider.name):
                return await self._provider.assess(inp, input_hash=digest, now=now)
        except ProviderUnavailable as e:
            MODEL_SKIPPED.labels(reason=e.reason).inc()
            if e.reason == INTERVAL:
                log.debug("another replica has this asset's turn", asset=inp.asset)
                return None
            if last is not None and not last.fallback:
                log.info("provider unavailable; last sentiment kept", asset=inp.asset, why=str(e))
                return None
            fallback = fallback_of(inp, now)
            if last is not None and last.input_hash == fallback.input_hash:
                return None  # the same fallback is already served
            log.info("provider unavailable; rule-based fallback", asset=inp.asset, why=str(e))
            return fallback

    async def _publish(self, asset: str, sentiment: Sentiment, ver: int) -> Published | None:
        channel = Channel(ChannelKind.SENTIMENT, asset)
        published = await self._publisher.publish(channel, sentiment, ver=ver)
        if published is None:
            log.debug("a newer sentiment is already stored", asset=asset)
            return None
        PUBLISHED.labels(provider=sentiment.provider, fallback=str(sentiment.fallback)).inc()
        log.info(
            "sentiment published",
            asset=asset,
            label=sentiment.label,
            score=sentiment.score,
            provider=sentiment.provider,
            fallback=sentiment.fallback,
            seq=published.seq,
        )
        return published


def _input_of(asset: str, state: AssetState) -> SentimentInput:
    return build_input(
        asset,
        state.ticker,
        state.indicators,
        state.forecasts,
        state.evaluations,
        state.headlines,
    )
