"""The in-memory candle copy: loaded once for many readers, out of date after an event or
REVALIDATE_S, sliced per limit, and kept as last-known-good when a reload fails."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.rest.candle_slot import REVALIDATE_S, CandleSlot, LoadedCandles


def candle(t: int) -> str:
    return orjson.dumps({"t": t, "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 3}).decode()


class Loader:
    def __init__(self, opens: list[int], produced_at: float | None = 500.0) -> None:
        self.opens = opens
        self.produced_at = produced_at
        self.calls = 0
        self.fail = False
        self.started = asyncio.Event()

    async def __call__(self) -> LoadedCandles:
        self.calls += 1
        self.started.set()
        await asyncio.sleep(0.01)
        if self.fail:
            raise StoreUnavailable("redis is down")
        return LoadedCandles([candle(t) for t in self.opens], self.produced_at, "simulated")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_readers_share_one_load() -> None:
    """Many requests for an out-of-date copy cause one read of Redis."""
    slot, load, clock = CandleSlot(Timeframe.H1), Loader([0, 3600]), Clock()
    await asyncio.gather(*(slot.refresh(load, clock) for _ in range(10)))
    assert load.calls == 1
    assert slot.current(clock())


async def test_event_or_age_makes_it_reload() -> None:
    """A candle event, or REVALIDATE_S without one, makes the next read reload."""
    slot, load, clock = CandleSlot(Timeframe.H1), Loader([0]), Clock()
    await slot.refresh(load, clock)
    await slot.refresh(load, clock)
    assert load.calls == 1
    slot.announce()
    assert not slot.current(clock())
    await slot.refresh(load, clock)
    assert load.calls == 2
    clock.now += REVALIDATE_S
    await slot.refresh(load, clock)
    assert load.calls == 3


async def test_event_during_a_load_keeps_it_out_of_date() -> None:
    """A candle announced while a load is in flight is not hidden by that load."""
    slot, load, clock = CandleSlot(Timeframe.H1), Loader([0]), Clock()
    loading = asyncio.create_task(slot.refresh(load, clock))
    await load.started.wait()
    slot.announce()
    await loading
    assert not slot.current(clock())


async def test_bodies_slice_the_newest_candles_oldest_first() -> None:
    """`limit` keeps the newest candles, oldest first, as the stored JSON joined."""
    slot, clock = CandleSlot(Timeframe.H1), Clock()
    await slot.refresh(Loader([0, 3600, 7200]), clock)
    two = slot.body(2)
    assert two is not None
    assert [c["t"] for c in orjson.loads(two.data)] == [3600, 7200]
    assert slot.body(2) is two  # memoised
    every = slot.body(1000)
    assert every is not None and len(orjson.loads(every.data)) == 3
    assert two.source == "simulated"


async def test_unannounced_set_is_as_old_as_its_newest_close() -> None:
    """Candles never announced on the channel date from the newest candle's close."""
    slot, clock = CandleSlot(Timeframe.H1), Clock()
    await slot.refresh(Loader([0, 3600], produced_at=None), clock)
    assert slot.produced_at == 7200.0


async def test_failed_reload_keeps_last_known_good() -> None:
    """A reload that fails raises, and the copy held before is still there to serve."""
    slot, load, clock = CandleSlot(Timeframe.H1), Loader([0, 3600]), Clock()
    await slot.refresh(load, clock)
    slot.announce()
    load.fail = True
    with pytest.raises(StoreUnavailable):
        await slot.refresh(load, clock)
    body = slot.body(10)
    assert body is not None and len(orjson.loads(body.data)) == 2


async def test_empty_set_has_no_body() -> None:
    """No candles cached: nothing to serve (the route answers 503)."""
    slot, clock = CandleSlot(Timeframe.H1), Clock()
    await slot.refresh(Loader([]), clock)
    assert slot.body(10) is None
