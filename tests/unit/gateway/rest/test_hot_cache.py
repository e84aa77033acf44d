"""L1: stream events become ready bodies, only newer values replace older, lookups by bytes."""

from __future__ import annotations

import orjson

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.channel_event import ChannelEvent
from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.rest.candle_slot import LoadedCandles
from marketpulse_gateway.rest.hot_cache import HotCache

CATALOG = Catalog(["bitcoin"], [Timeframe.M5, Timeframe.H1])
NOW = 1_700_000_000.0
TICKER = Channel(ChannelKind.TICKER, "bitcoin")


def event(channel: Channel, seq: str, price: float, *, epoch: str = "e1") -> ChannelEvent:
    fields = {
        "s": "ticker/1",
        "ts": repr(NOW - 1),
        "d": f'{{"price":{price}}}',
        "epoch": epoch,
        "src": "simulated",
    }
    return ChannelEvent.from_entry(channel.name, seq, fields)


def cache() -> tuple[HotCache, GatewayMetrics]:
    metrics = GatewayMetrics()
    return HotCache(CATALOG, metrics, clock=lambda: NOW, monotonic=lambda: 0.0), metrics


def price_at(hot: HotCache, path: str, query: bytes = b"") -> float | None:
    hit = hot.lookup(path, query)
    return None if hit is None else orjson.loads(hit[0].data)["price"]


def test_events_fill_and_refresh_values() -> None:
    """A primed value is served at once; a published one replaces it."""
    hot, _ = cache()
    hot.prime(event(TICKER, "100-0", 1.0))
    assert price_at(hot, "/v1/assets/bitcoin/ticker") == 1.0
    hot.publish(event(TICKER, "101-0", 2.0))
    hit = hot.lookup("/v1/assets/bitcoin/ticker", b"")
    assert hit is not None
    ready, route = hit
    assert route == "/v1/assets/{asset}/ticker"
    assert ready.source == "simulated"
    assert price_at(hot, "/v1/assets/bitcoin/ticker") == 2.0


def test_older_value_never_replaces_a_newer_one() -> None:
    """A lagging event (lower seq, same epoch) is ignored; a new epoch always wins."""
    hot, _ = cache()
    hot.publish(event(TICKER, "200-0", 2.0))
    hot.publish(event(TICKER, "150-0", 1.0))
    assert price_at(hot, "/v1/assets/bitcoin/ticker") == 2.0
    hot.publish(event(TICKER, "5-0", 3.0, epoch="e2"))  # Redis lost its history
    assert price_at(hot, "/v1/assets/bitcoin/ticker") == 3.0


def test_route_snapshot_fills_and_keeps_the_newer() -> None:
    """A snapshot a route read is kept unless memory already holds a newer value."""
    hot, _ = cache()
    snap = Snapshot("ticker/1", NOW, '{"price":5.0}', "300-0", "e1")
    assert orjson.loads(hot.offer_snapshot(TICKER, snap).data)["price"] == 5.0
    hot.publish(event(TICKER, "400-0", 6.0))
    older = Snapshot("ticker/1", NOW, '{"price":5.0}', "300-0", "e1")
    assert orjson.loads(hot.offer_snapshot(TICKER, older).data)["price"] == 6.0


def test_timeframe_values_by_query() -> None:
    """Per-timeframe values are found by `tf`, the default timeframe also without it."""
    hot, _ = cache()
    hot.prime(event(Channel(ChannelKind.INDICATORS, "bitcoin", Timeframe.H1), "1-0", 60.0))
    hot.prime(event(Channel(ChannelKind.INDICATORS, "bitcoin", Timeframe.M5), "1-0", 5.0))
    path = "/v1/assets/bitcoin/indicators"
    assert price_at(hot, path, b"tf=1h") == 60.0
    assert price_at(hot, path) == 60.0
    assert price_at(hot, path, b"tf=5m") == 5.0
    assert price_at(hot, path, b"tf=4h") is None
    assert price_at(hot, path, b"tf=1h&x=1") is None


def test_evaluations_are_cached_though_not_streamed() -> None:
    """Evaluation channels are followed for REST only."""
    hot, _ = cache()
    hot.prime(event(Channel(ChannelKind.EVALUATION, "bitcoin", Timeframe.H1), "1-0", 9.0))
    assert price_at(hot, "/v1/assets/bitcoin/evaluation", b"tf=1h") == 9.0


def test_unknown_paths_are_not_hot() -> None:
    """Untracked assets, other resources and trailing slashes are left to FastAPI."""
    hot, _ = cache()
    hot.prime(event(TICKER, "1-0", 1.0))
    for path in ("/v1/assets/dogecoin/ticker", "/v1/assets/bitcoin/ticker/", "/v1/assets"):
        assert hot.lookup(path, b"") is None


def test_value_not_held_yet_is_not_hot() -> None:
    """A hot resource whose value is not held yet goes to FastAPI (and on to Redis)."""
    hot, _ = cache()
    assert hot.lookup("/v1/assets/bitcoin/sentiment", b"") is None


def test_publish_observes_stream_lag_and_ages_are_reported() -> None:
    """Each published event records its lag; every held value reports its age."""
    hot, metrics = cache()
    hot.publish(event(TICKER, "1-0", 1.0))
    assert metrics.registry.get_sample_value("marketpulse_gateway_stream_lag_seconds_sum") == 1.0
    assert list(hot.ages()) == [("bitcoin", "ticker", 1.0)]


async def test_candle_event_makes_the_copy_out_of_date() -> None:
    """Candles are not served from events; an event only marks the loaded copy old."""
    hot, _ = cache()
    slot = hot.candles("bitcoin", Timeframe.H1)

    async def load() -> LoadedCandles:
        return LoadedCandles(['{"t":0,"o":1,"h":1,"l":1,"c":1,"v":1}'], NOW, "simulated")

    await slot.refresh(load, hot.monotonic)
    assert hot.lookup("/v1/assets/bitcoin/candles", b"tf=1h&limit=1") is not None
    hot.publish(event(Channel(ChannelKind.CANDLES, "bitcoin", Timeframe.H1), "2-0", 1.0))
    assert hot.lookup("/v1/assets/bitcoin/candles", b"tf=1h&limit=1") is None
