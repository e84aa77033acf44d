"""Readiness: Redis reachable, streams followed, and a ticker cached for every asset."""

from __future__ import annotations

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.freshness import TICKER_MAX_AGE_S
from marketpulse_gateway.readiness import RedisReport, assess

CATALOG = Catalog(["bitcoin", "ethereum"], [Timeframe.H1])
UP = RedisReport(reachable=True, latency_ms=0.2)
NOW = 10_000.0


def produced(**tickers: float | None) -> dict[Channel, float | None]:
    return {Channel(ChannelKind.TICKER, asset): ts for asset, ts in tickers.items()}


def test_ready_with_every_ticker() -> None:
    """Redis up, reader running and a ticker per asset: ready, with no reasons."""
    report = assess(
        CATALOG, UP, reader_running=True, produced_at=produced(bitcoin=NOW, ethereum=NOW), now=NOW
    )
    assert report.ready
    assert report.reasons == []
    assert report.assets["bitcoin"]["ticker"].age_s == 0.0


def test_stale_data_is_reported_but_still_ready() -> None:
    """Stale data is flagged per channel but does not take the gateway out of service."""
    old = NOW - TICKER_MAX_AGE_S - 1
    report = assess(
        CATALOG, UP, reader_running=True, produced_at=produced(bitcoin=old, ethereum=NOW), now=NOW
    )
    assert report.ready
    assert report.assets["bitcoin"]["ticker"].stale


def test_missing_ticker_is_not_ready() -> None:
    """An asset with nothing cached makes the gateway unready, and the reason names it."""
    report = assess(
        CATALOG, UP, reader_running=True, produced_at=produced(bitcoin=NOW, ethereum=None), now=NOW
    )
    assert not report.ready
    assert report.reasons == ["no ticker cached yet for ethereum"]
    assert report.assets["ethereum"]["ticker"].age_s is None


def test_redis_down_or_reader_stopped_is_not_ready() -> None:
    """Unreachable Redis or a stopped reader each make the gateway unready."""
    down = assess(
        CATALOG, RedisReport(reachable=False), reader_running=False, produced_at={}, now=NOW
    )
    assert not down.ready
    assert down.reasons == [
        "Redis is unreachable",
        "the stream reader is not following the streams",
    ]
    assert down.assets == {"bitcoin": {}, "ethereum": {}}
