"""Reads through both cache layers, for the FastAPI routes: Redis (L2), then memory (L1).

A route reaches Redis only when the hot path could not answer, so what it reads is kept in
L1 for the next request. While Redis is unreachable the routes get L1's last-known-good
instead (`stale=True`), without waiting on Redis when the outage is already known; only a
value L1 never held is an error then (`StoreUnavailable` → 503). For the metrics, a route
read that goes to Redis is an L1 miss (the hot path counts the hits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from marketpulse_common.keys import Channel
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.catalog import MAX_CANDLES
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.freshness import Freshness, oldest
from marketpulse_gateway.rest.context import RestContext
from marketpulse_gateway.rest.envelope import ReadyBody, meta_dict
from marketpulse_gateway.stored import Rejected

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Layered:
    """Values read for one request; `stale` when they are last-known-good from memory."""

    values: list[ReadyBody | None]
    stale: bool


async def read_values(gateway: RestContext, channels: Sequence[Channel]) -> Layered:
    """The latest value of each channel (None: nothing cached anywhere)."""
    if gateway.store.reachable:
        gateway.metrics.l1_miss.inc()
        try:
            snapshots = await gateway.cache.snapshots(channels)
        except StoreUnavailable:
            pass
        else:
            for snap in snapshots:
                (gateway.metrics.l2_hit if snap else gateway.metrics.l2_miss).inc()
            return Layered(
                [
                    _layered(gateway, channel, snap)
                    for channel, snap in zip(channels, snapshots, strict=True)
                ],
                stale=False,
            )
    held = [gateway.hot.value(channel) for channel in channels]
    if not any(held):
        raise StoreUnavailable("Redis is unreachable and nothing is held in memory for this")
    return Layered(held, stale=True)


def _layered(
    gateway: RestContext, channel: Channel, snap: Snapshot | Rejected | None
) -> ReadyBody | None:
    if snap is None:
        return None
    if isinstance(snap, Rejected):
        # Never served: the last good value this gateway holds is (or none, a 404).
        log.warning("stored snapshot rejected", channel=channel.name, reason=snap.reason)
        return gateway.hot.value(channel)
    return gateway.hot.offer_snapshot(channel, snap)


async def read_candles(gateway: RestContext, asset: str, tf: Timeframe, limit: int) -> Layered:
    """The newest `limit` closed candles as one value (None: no candles cached)."""
    slot = gateway.hot.candles(asset, tf)
    if slot.current(gateway.hot.monotonic()):
        gateway.metrics.l1_hit.inc()
        return Layered([slot.body(limit)], stale=not gateway.store.reachable)
    gateway.metrics.l1_miss.inc()
    try:
        if not gateway.store.reachable:
            raise StoreUnavailable("Redis is unreachable")
        await slot.refresh(
            lambda: gateway.cache.candles(asset, tf, MAX_CANDLES), gateway.hot.monotonic
        )
    except StoreUnavailable:
        if slot.members is None:
            raise
        return Layered([slot.body(limit)], stale=True)
    body = slot.body(limit)
    (gateway.metrics.l2_hit if body else gateway.metrics.l2_miss).inc()
    return Layered([body], stale=False)


def ready_freshness(ready: ReadyBody, now: float, *, stale: bool) -> Freshness:
    age = max(0.0, now - ready.produced_at)
    return Freshness(
        as_of=datetime.fromtimestamp(ready.produced_at, UTC),
        age_s=round(age, 3),
        stale=stale or age > ready.max_age_s,
    )


def compose(parts: dict[str, ReadyBody | None], now: float, *, stale: bool) -> Composed:
    """One body of several values: data by name (null when absent), meta of the oldest."""
    data = orjson.dumps({name: orjson.Fragment(r.data) if r else None for name, r in parts.items()})
    present = {name: r for name, r in parts.items() if r is not None}
    fresh = {name: ready_freshness(r, now, stale=stale) for name, r in present.items()}
    sources = {r.source for r in present.values()}
    meta = meta_dict(oldest(list(fresh.values())), sources.pop() if len(sources) == 1 else "")
    return Composed(data, meta, fresh, present)


@dataclass(frozen=True, slots=True)
class Composed:
    data: bytes
    meta: dict[str, object]
    freshness: dict[str, Freshness]
    present: dict[str, ReadyBody]

    def meta_with_parts(self) -> dict[str, object]:
        parts = {
            name: meta_dict(self.freshness[name], ready.source)
            for name, ready in self.present.items()
        }
        return {**self.meta, "parts": parts}
