"""Candle events in, one Indicators value per window out: idempotent, ordered, poison-proof."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import REGISTRY

from marketpulse_common.events import encode_payload
from marketpulse_compute.window import WINDOW_SIZE, window_from_members
from tests.integration.compute.harness import TF, Compute, cache_candles, make_candles
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def test_a_candle_event_publishes_the_indicators_of_its_window(compute: Compute) -> None:
    """The snapshot names the cached window ending at the event's candle, with its hash."""
    candles = make_candles(100)
    await cache_candles(compute.redis, compute.asset, candles)
    await compute.announce(candles[-1])
    value = await compute.wait_for_window(candles[-1].t)
    expected = window_from_members(TF, [encode_payload(c) for c in candles]).describe()
    assert value.window == expected
    assert (value.asset, value.tf) == (compute.asset, TF)
    assert value.values["rsi_14"] is not None
    assert await compute.history_len() == 1


async def test_the_window_ends_at_the_event_and_is_bounded(compute: Compute) -> None:
    """Candles newer than the event are left out, and at most WINDOW_SIZE are used."""
    candles = make_candles(WINDOW_SIZE + 60)
    await cache_candles(compute.redis, compute.asset, candles)
    target = candles[-11]  # ten newer candles are already cached
    await compute.announce(target)
    value = await compute.wait_for_window(target.t)
    assert value.window.count == WINDOW_SIZE
    assert value.window.first_open == candles[-11 - WINDOW_SIZE + 1].t


async def test_a_redelivered_event_is_published_once(compute: Compute) -> None:
    """The same event handled twice leaves one entry in the indicators history."""
    candles = make_candles(80)
    await cache_candles(compute.redis, compute.asset, candles)
    first = await compute.announce(candles[-1])
    stored = await compute.wait_for_window(candles[-1].t)
    await compute.add_raw_event(await compute.event_fields(first))
    await compute.wait_until_handled(2)
    assert await compute.history_len() == 1
    assert await compute.latest() == stored


async def test_an_older_event_never_replaces_a_newer_result(compute: Compute) -> None:
    """An event for an older candle arriving after a newer one changes nothing."""
    candles = make_candles(80)
    await cache_candles(compute.redis, compute.asset, candles)
    await compute.announce(candles[-1])
    newest = await compute.wait_for_window(candles[-1].t)
    older = candles[-5]
    await compute.add_raw_event(
        {"s": "candle/1", "ts": "1", "d": encode_payload(older), "prev": "", "epoch": "e"}
    )
    await compute.wait_until_handled(2)
    assert await compute.latest() == newest
    assert await compute.history_len() == 1


async def test_a_poison_event_is_dead_lettered_and_the_consumer_goes_on(compute: Compute) -> None:
    """A malformed event lands in the dead-letter stream; the next good event is processed."""
    bad = await compute.add_raw_event(
        {"s": "candle/1", "ts": "1", "d": "{not json", "prev": "", "epoch": "e"}
    )
    candles = make_candles(40)
    await cache_candles(compute.redis, compute.asset, candles)
    await compute.announce(candles[-1])
    await compute.wait_for_window(candles[-1].t)
    letters = await compute.redis.xrange(compute.dead_letters)
    assert len(letters) == 1
    record = letters[0][1]
    assert (record["stream"], record["id"]) == (compute.candles.stream_key, bad)
    assert "does not match" in record["reason"]
    assert orjson.loads(record["fields"])["d"] == "{not json"


async def test_an_event_ahead_of_the_cache_is_retried_until_the_candle_lands(
    compute: Compute,
) -> None:
    """An event whose candle is not cached yet stays pending, then succeeds once it is."""
    candles = make_candles(60)
    await cache_candles(compute.redis, compute.asset, candles[:-1])
    await compute.announce(candles[-1])

    async def failed_once() -> bool:
        return compute.consumer.stats.failed >= 1

    await eventually(failed_once, what="the early event to fail")
    assert await compute.pending() == 1
    assert await compute.latest() is None
    await cache_candles(compute.redis, compute.asset, candles[-1:])
    await compute.wait_for_window(candles[-1].t)
    await eventually(lambda: _none_pending(compute), what="the retried event to be acked")
    assert compute.consumer.stats.dead_lettered == 0


async def test_an_event_for_a_candle_gone_from_the_cache_is_skipped(compute: Compute) -> None:
    """A candle missing from the cache while newer ones exist is acked without a result."""
    candles = make_candles(60)
    missing = candles[30]
    await cache_candles(compute.redis, compute.asset, candles[:30] + candles[31:])
    await compute.announce(missing)
    await compute.wait_until_handled(1)
    assert await compute.pending() == 0
    assert await compute.latest() is None
    assert await compute.redis.xlen(compute.dead_letters) == 0


async def _none_pending(compute: Compute) -> bool:
    return await compute.pending() == 0


async def test_the_lag_from_announcement_to_indicators_is_measured(compute: Compute) -> None:
    """stored → computed: one observation per published value, from the entry's time; none
    for a forecast when none was published (too short a history for one here)."""
    family = "marketpulse_compute_stored_to_computed_seconds"
    labels = {"output": "indicators"}
    before = REGISTRY.get_sample_value(f"{family}_count", labels) or 0.0
    forecasts = {"output": "forecast"}
    forecasts_before = REGISTRY.get_sample_value(f"{family}_count", forecasts) or 0.0
    candles = make_candles(100)
    await cache_candles(compute.redis, compute.asset, candles)
    await compute.announce(candles[-1])
    await compute.wait_for_window(candles[-1].t)

    async def observed() -> bool:
        return (REGISTRY.get_sample_value(f"{family}_count", labels) or 0.0) == before + 1

    await eventually(observed, timeout=10, what="one stored → computed observation")
    inf = REGISTRY.get_sample_value(f"{family}_bucket", {**labels, "le": "+Inf"})
    assert inf == before + 1
    assert (REGISTRY.get_sample_value(f"{family}_bucket", {**labels, "le": "300.0"}) or 0) >= 1
    await eventually(lambda: _none_pending(compute), what="the event acked")
    assert (REGISTRY.get_sample_value(f"{family}_count", forecasts) or 0.0) == forecasts_before
