"""L1: every served value of this gateway, held in memory as bytes ready to send.

Redis is the shared cache (L2); this is each process's own copy, kept current by the stream
events the gateway already reads (it is an `EventSink` beside the WebSocket hub) and filled
by the FastAPI routes whenever they had to read Redis. Channel values are replaced only by
newer ones (same epoch, higher stream id; or a new epoch), so a lagging reader and a route
that read a fresher snapshot never step on each other.

What it holds survives a Redis outage: it is the last-known-good the gateway keeps serving,
marked stale, until Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.catalog import Catalog, channel_label
from marketpulse_gateway.channel_event import ChannelEvent, SeqKey, seq_key
from marketpulse_gateway.freshness import max_age_s
from marketpulse_gateway.metrics import AgeSample, GatewayMetrics
from marketpulse_gateway.rest.candle_slot import CandleSlot
from marketpulse_gateway.rest.envelope import ReadyBody
from marketpulse_gateway.rest.hot_routes import (
    VALUE_KINDS,
    RouteKey,
    parse_candles_query,
    resource_path,
    route_template,
    value_route_keys,
)

CANDLES_ROUTE = route_template(ChannelKind.CANDLES)


# What the hot path found: the body to render and the route it stands for (metrics). A
# plain tuple: the hot path allocates as little as it can.
Hit = tuple[ReadyBody, str]


class _ValueSlot:
    __slots__ = ("body", "channel", "epoch", "max_age_s", "route", "seq")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.route = route_template(channel.kind)
        self.max_age_s = max_age_s(channel.kind, channel.tf)
        self.body: ReadyBody | None = None
        self.epoch = ""
        self.seq: SeqKey = (0, 0)

    def offer(self, data: str, ts: float, source: str, epoch: str, seq: SeqKey) -> ReadyBody:
        """Keep this value if it is newer than the one held; return whichever is newer."""
        if self.body is None or epoch != self.epoch or seq > self.seq:
            self.body = ReadyBody.build(data.encode(), ts, self.max_age_s, source)
            self.epoch, self.seq = epoch, seq
        return self.body


class HotCache:
    def __init__(
        self,
        catalog: Catalog,
        metrics: GatewayMetrics,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._clock = clock
        self.monotonic = monotonic
        self._values: dict[str, _ValueSlot] = {}
        self._routes: dict[RouteKey, _ValueSlot] = {}
        self._candles: dict[tuple[str, str], CandleSlot] = {}
        self._candle_paths: dict[str, str] = {}
        self._candle_channels: dict[str, CandleSlot] = {}
        for channel in catalog.cached_channels:
            self._add(channel)

    def _add(self, channel: Channel) -> None:
        if channel.kind is ChannelKind.CANDLES:
            assert channel.tf is not None
            slot = CandleSlot(channel.tf)
            self._candles[channel.asset, channel.tf.value] = slot
            self._candle_channels[channel.name] = slot
            self._candle_paths[resource_path(channel.kind, channel.asset)] = channel.asset
        elif channel.kind in VALUE_KINDS:
            value = self._values[channel.name] = _ValueSlot(channel)
            for key in value_route_keys(channel):
                self._routes[key] = value

    # --- the stream reader's sink ------------------------------------------------------

    def prime(self, event: ChannelEvent) -> None:
        self._apply(event)

    def publish(self, event: ChannelEvent) -> None:
        lag = self._clock() - event.ts
        self._metrics.stream_lag.observe(lag if lag > 0.0 else 0.0)
        self._apply(event)

    def _apply(self, event: ChannelEvent) -> None:
        value = self._values.get(event.channel)
        if value is not None:
            value.offer(event.data, event.ts, event.source, event.epoch, event.key)
            return
        candles = self._candle_channels.get(event.channel)
        if candles is not None:
            candles.announce()

    # --- the hot path ------------------------------------------------------------------

    def lookup(self, path: str, query: bytes) -> Hit | None:
        """The ready body for a hot GET, or None (not a hot request, or nothing current)."""
        value = self._routes.get((path, query))
        if value is not None:
            return None if value.body is None else (value.body, value.route)
        asset = self._candle_paths.get(path)
        return None if asset is None else self._candles_hit(asset, query)

    def _candles_hit(self, asset: str, query: bytes) -> Hit | None:
        parsed = parse_candles_query(query)
        slot = self._candles.get((asset, parsed[0])) if parsed else None
        if parsed is None or slot is None or not slot.current(self.monotonic()):
            return None  # an unusual query (FastAPI explains it) or a copy to reload
        body = slot.body(parsed[1])
        return None if body is None else (body, CANDLES_ROUTE)

    # --- the FastAPI routes ------------------------------------------------------------

    def value(self, channel: Channel) -> ReadyBody | None:
        slot = self._values.get(channel.name)
        return slot.body if slot else None

    def offer_snapshot(self, channel: Channel, snapshot: Snapshot) -> ReadyBody:
        """Keep a snapshot a route read from Redis; the newer of it and the held value."""
        slot = self._values.get(channel.name)
        if slot is None:  # not a cached channel (cannot happen for a catalog channel)
            return ReadyBody.build(
                snapshot.data.encode(),
                snapshot.ts,
                max_age_s(channel.kind, channel.tf),
                snapshot.source,
            )
        return slot.offer(
            snapshot.data, snapshot.ts, snapshot.source, snapshot.epoch, seq_key(snapshot.seq)
        )

    def candles(self, asset: str, tf: Timeframe) -> CandleSlot:
        return self._candles[asset, tf.value]

    # --- operations --------------------------------------------------------------------

    def produced_at(self, channel: Channel) -> float | None:
        if channel.kind is ChannelKind.CANDLES:
            assert channel.tf is not None
            slot = self._candles[channel.asset, channel.tf.value]
            return slot.produced_at if slot.members else None
        body = self.value(channel)
        return body.produced_at if body else None

    def ages(self) -> Iterator[AgeSample]:
        """(asset, channel label, age) of every value held, for the data-age metric."""
        now = self._clock()
        for slot in self._values.values():
            if slot.body is not None:
                age = max(0.0, now - slot.body.produced_at)
                yield slot.channel.asset, channel_label(slot.channel), age
        for name, candles in self._candle_channels.items():
            if candles.members:
                channel = Channel.parse(name)
                yield channel.asset, channel_label(channel), max(0.0, now - candles.produced_at)
