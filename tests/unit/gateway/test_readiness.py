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
    assert (report.state, report.ready) == ("ready", True)
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


def test_reader_stopped_with_redis_up_is_not_ready() -> None:
    """A reader that does not follow the streams while Redis answers makes it unready."""
    report = assess(
        CATALOG, UP, reader_running=False, produced_at=produced(bitcoin=NOW, ethereum=NOW), now=NOW
    )
    assert (report.state, report.ready) == ("unready", False)
    assert report.reasons == ["the stream reader is not following the streams"]


def test_redis_down_with_data_held_is_degraded() -> None:
    """Redis down but every ticker held in memory: degraded, still taking traffic."""
    down = RedisReport(reachable=False)
    report = assess(
        CATALOG,
        down,
        reader_running=False,
        produced_at=produced(bitcoin=NOW, ethereum=NOW),
        now=NOW,
    )
    assert (report.state, report.ready) == ("degraded", True)
    assert report.reasons == [
        "Redis is unreachable; serving last-known-good data marked stale",
        "the stream reader is not following the streams",
    ]


def test_redis_down_with_nothing_held_is_not_ready() -> None:
    """Redis down and nothing in memory: unready, the missing data named first."""
    report = assess(
        CATALOG, RedisReport(reachable=False), reader_running=False, produced_at={}, now=NOW
    )
    assert (report.state, report.ready) == ("unready", False)
    assert report.reasons[0] == "no ticker cached yet for bitcoin, ethereum"
    assert report.assets == {"bitcoin": {}, "ethereum": {}}
