"""Which requests the hot path understands: exact value routes and plain candle queries."""

from __future__ import annotations

import pytest

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.rest.hot_routes import (
    parse_candles_query,
    route_template,
    value_route_keys,
)


def test_asset_values_have_one_route() -> None:
    """Ticker and sentiment are served at their path with no query."""
    keys = list(value_route_keys(Channel(ChannelKind.TICKER, "bitcoin")))
    assert keys == [("/v1/assets/bitcoin/ticker", b"")]


def test_default_timeframe_is_also_served_without_a_query() -> None:
    """`?tf=1h` and no query at all name the same value (1h is the default)."""
    keys = list(value_route_keys(Channel(ChannelKind.INDICATORS, "bitcoin", Timeframe.H1)))
    assert keys == [
        ("/v1/assets/bitcoin/indicators", b"tf=1h"),
        ("/v1/assets/bitcoin/indicators", b""),
    ]
    other = list(value_route_keys(Channel(ChannelKind.FORECAST, "bitcoin", Timeframe.M5)))
    assert other == [("/v1/assets/bitcoin/forecast", b"tf=5m")]


def test_route_template_is_fastapis() -> None:
    """Metrics label hot responses with the same template FastAPI routes carry."""
    assert route_template(ChannelKind.EVALUATION) == "/v1/assets/{asset}/evaluation"


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        (b"", ("1h", 200)),
        (b"tf=5m", ("5m", 200)),
        (b"limit=3", ("1h", 3)),
        (b"tf=5m&limit=1000", ("5m", 1000)),
        (b"limit=1&tf=4h", ("4h", 1)),
    ],
)
def test_plain_candle_queries(query: bytes, parsed: tuple[str, int]) -> None:
    """tf and limit in either order (or absent, for the defaults) are understood."""
    assert parse_candles_query(query) == parsed


@pytest.mark.parametrize(
    "query",
    [
        b"limit=0",
        b"limit=1001",
        b"limit=ten",
        b"limit=-1",
        b"limit=00001",
        b"tf=1h&tf=5m",  # repeated
        b"tf=1h&x=1",  # unknown parameter
        b"tf",  # no value
        b"tf=1h&",
        b"limit=1%30",  # percent-encoded
    ],
)
def test_anything_else_goes_to_fastapi(query: bytes) -> None:
    """Out-of-range, repeated, unknown or encoded parameters are not hot requests."""
    assert parse_candles_query(query) is None
