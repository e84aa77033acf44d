"""The in-process copy of one asset/timeframe's closed candles (the newest MAX_CANDLES).

Candles are not a single channel value: the ingestor writes the sorted set (backfill, gap
repair, trimming) and announces only the newest candle on the channel. So the copy here is
loaded from Redis, not built from events: a candle event only marks it out of date, and it
is re-read at the next request that needs it. A write the ingestor does not announce (a
repaired gap) shows within REVALIDATE_S, after which the copy is re-read anyway.

Concurrent requests for an out-of-date copy share one Redis read (single flight), so a
candle close never turns a crowd of dashboards into a crowd of identical ZRANGEs. The old
members stay as last-known-good until a read succeeds, for serving through an outage.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from marketpulse_common.keys import ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.freshness import max_age_s
from marketpulse_gateway.rest.envelope import ReadyBody

# How long a loaded copy is trusted without an event: the bound on how late an unannounced
# write to the sorted set shows up.
REVALIDATE_S = 30.0
# Response bodies kept per series, one per distinct `limit` asked for (most clients use one).
MEMO_SIZE = 8


@dataclass(frozen=True, slots=True)
class LoadedCandles:
    """One read of the sorted set: Candle JSON members oldest first, and the channel's stamp."""

    members: list[str]
    produced_at: float | None  # when the newest candle was announced; None: never announced
    source: str = ""


class CandleSlot:
    __slots__ = (
        "_generation",
        "_loaded_at",
        "_loaded_generation",
        "_loading",
        "_memo",
        "max_age_s",
        "members",
        "produced_at",
        "source",
        "tf",
    )

    def __init__(self, tf: Timeframe) -> None:
        self.tf = tf
        self.max_age_s = max_age_s(ChannelKind.CANDLES, tf)
        self.members: list[str] | None = None
        self.produced_at = 0.0
        self.source = ""
        self._generation = 0
        self._loaded_generation = -1
        self._loaded_at = -math.inf
        self._memo: OrderedDict[int, ReadyBody] = OrderedDict()
        self._loading: asyncio.Future[None] | None = None

    def announce(self) -> None:
        """A candle event arrived: the copy is out of date from now on."""
        self._generation += 1

    def current(self, now_mono: float) -> bool:
        return (
            self.members is not None
            and self._loaded_generation == self._generation
            and now_mono - self._loaded_at < REVALIDATE_S
        )

    def body(self, limit: int) -> ReadyBody | None:
        """The newest `limit` candles ready to send; None when none are held."""
        if not self.members:
            return None
        ready = self._memo.get(limit)
        if ready is None:
            # Members are Candle JSON as the ingestor stored it: join, never decode.
            data = b"[" + ",".join(self.members[-limit:]).encode() + b"]"
            ready = ReadyBody.build(data, self.produced_at, self.max_age_s, self.source)
            self._memo[limit] = ready
            if len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(limit)
        return ready

    async def refresh(
        self, load: Callable[[], Awaitable[LoadedCandles]], now_mono: Callable[[], float]
    ) -> None:
        """Re-read the copy unless it is current; raises what `load` raises."""
        if self.current(now_mono()):
            return
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load(load, now_mono))
            # Waiters may all be cancelled; the outcome must still count as retrieved.
            self._loading.add_done_callback(_retrieve)
        await asyncio.shield(self._loading)

    async def _load(
        self, load: Callable[[], Awaitable[LoadedCandles]], now_mono: Callable[[], float]
    ) -> None:
        generation = self._generation
        try:
            loaded = await load()
        finally:
            self._loading = None
        self.members = loaded.members
        self.produced_at = _produced_at(loaded, self.tf)
        self.source = loaded.source
        self._memo.clear()
        self._loaded_generation = generation
        self._loaded_at = now_mono()


def _produced_at(loaded: LoadedCandles, tf: Timeframe) -> float:
    if loaded.produced_at is not None or not loaded.members:
        return loaded.produced_at or 0.0
    # Backfilled but not yet announced on the channel: the newest candle's close time is
    # the best statement of how current the set is.
    return float(orjson.loads(loaded.members[-1])["t"] + tf.seconds)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
