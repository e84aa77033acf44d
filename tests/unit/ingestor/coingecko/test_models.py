"""Upstream bodies are validated whole: anything off the documented shape is an error."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpulse_ingestor.coingecko.models import (
    MAX_PRICE,
    parse_chart,
    parse_markets,
    parse_ohlc,
)
from marketpulse_ingestor.errors import MalformedResponse
from tests.coingecko_server.hostile import hostile_bodies

NOW = 1_790_000_000.0
MS = int(NOW * 1000)


def dumps(value: Any) -> bytes:
    # The standard library writes what orjson refuses: huge integers, NaN, Infinity.
    return json.dumps(value).encode()


def market_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "bitcoin",
        "symbol": "btc",
        "current_price": 64000.5,
        "market_cap": 1.26e12,
        "total_volume": 2.4e10,
        "high_24h": 65000,
        "low_24h": 63000.25,
        "price_change_percentage_24h": -1.25,
        "last_updated": "2026-09-21T13:33:20.000Z",
        "roi": None,
        "new_field_upstream_added": {"nested": [1, 2]},
    }
    return {**row, **changes}


def test_a_real_markets_body_parses() -> None:
    """The documented shape, unknown fields included, gives its rows."""
    [row] = parse_markets(dumps([market_row()]), now=NOW)
    assert (row.id, row.current_price, row.low_24h) == ("bitcoin", 64000.5, 63000.25)
    assert row.last_updated is not None and row.last_updated.tzinfo is not None


def test_a_coin_without_a_price_is_a_row_without_a_price() -> None:
    """Null fields upstream (thin markets) are allowed and stay null."""
    [row] = parse_markets(dumps([market_row(current_price=None, high_24h=None)]), now=NOW)
    assert row.current_price is None


@pytest.mark.parametrize(
    "raw",
    [
        b"<html><body>Just a moment...</body></html>",
        b"",
        b'[{"id": "bitcoin", "current_price": 64000',
        b'{"status": {"error_code": 429}}',
        dumps([market_row(current_price="64000")]),
        dumps([market_row(current_price=True)]),
        dumps([market_row(current_price=-1)]),
        dumps([market_row(current_price=0)]),
        dumps([market_row(current_price=MAX_PRICE * 10)]),
        dumps([market_row(total_volume=-5)]),
        dumps([market_row(last_updated="2999-01-01T00:00:00Z")]),
        dumps([market_row(last_updated="yesterday")]),
        dumps([market_row(last_updated="2026-09-21T13:33:20")]),
        dumps([market_row(id=5)]),
        b'[{"id": "bitcoin", "current_price": NaN, "last_updated": null}]',
        b'[{"id": "bitcoin", "current_price": 1e999, "last_updated": null}]',
    ],
)
def test_an_off_schema_markets_body_is_malformed(raw: bytes) -> None:
    """HTML, truncated JSON, strings or booleans for numbers, non-positive or absurd prices,
    far-future or naive timestamps: the whole body is refused."""
    with pytest.raises(MalformedResponse) as caught:
        parse_markets(raw, now=NOW)
    assert len(str(caught.value)) < 200  # the body is never echoed


def test_ohlc_rows_parse_as_close_time_and_prices() -> None:
    """[[ms, o, h, l, c], …] as documented."""
    rows = parse_ohlc(dumps([[MS - 3_600_000, 10, 12, 9, 11.5]]), now=NOW)
    assert rows == [(MS - 3_600_000, 10.0, 12.0, 9.0, 11.5)]


@pytest.mark.parametrize(
    "rows",
    [
        [[MS, 10, 9, 8, 11]],  # high below close
        [[MS, 10, 12, 10.5, 11]],  # low above open
        [[MS, 10, 12, 9]],  # a field missing
        [[MS, 10, 12, 9, 11, 5]],  # one too many
        [[float(MS), 10, 12, 9, 11]],  # a float timestamp
        [[MS + 10 * 86_400_000, 10, 12, 9, 11]],  # days in the future
        [[1000, 10, 12, 9, 11]],  # 1970
        {"prices": []},
    ],
)
def test_an_incoherent_ohlc_body_is_malformed(rows: Any) -> None:
    """Candles whose high/low do not bound them, wrong arity, odd timestamps: refused."""
    with pytest.raises(MalformedResponse):
        parse_ohlc(dumps(rows), now=NOW)


def test_chart_prices_are_taken_and_volumes_ignored() -> None:
    """Only `prices` is used; the rolling 24 h volumes are not even looked at."""
    body = {"prices": [[MS, 1.5]], "market_caps": [[MS, 2]], "total_volumes": "anything"}
    assert parse_chart(dumps(body), now=NOW) == [(MS, 1.5)]


@pytest.mark.parametrize(
    "body",
    [
        {"prices": [[MS, None]]},
        {"prices": [[MS, "1.5"]]},
        {"price": []},
        [[MS, 1.5]],
        {"prices": {}},
    ],
)
def test_an_off_schema_chart_is_malformed(body: Any) -> None:
    """Null or string prices, a missing `prices`, the wrong container: refused."""
    with pytest.raises(MalformedResponse):
        parse_chart(dumps(body), now=NOW)


VALID = {
    "markets": [market_row(), market_row(id="ethereum", current_price=3100.0)],
    "ohlc": [[MS - 14_400_000, 10, 12, 9, 11], [MS, 11, 13, 10, 12]],
    "chart": {"prices": [[MS - 300_000, 10.5], [MS, 11.0]], "total_volumes": [[MS, 5]]},
}
PARSERS = {"markets": parse_markets, "ohlc": parse_ohlc, "chart": parse_chart}


def _assert_sane(kind: str, parsed: Any) -> None:
    if kind == "markets":
        for row in parsed:
            price = row.current_price
            assert price is None or (math.isfinite(price) and 0 < price < MAX_PRICE)
            assert row.last_updated is None or row.last_updated.timestamp() <= NOW + 300
    elif kind == "ohlc":
        for t, o, h, low, c in parsed:
            assert t <= (NOW + 86_400) * 1000 and all(0 < v < MAX_PRICE for v in (o, h, low, c))
            assert low <= min(o, c) and h >= max(o, c)
    else:
        assert all(isinstance(t, int) and 0 < p < MAX_PRICE for t, p in parsed)


@given(data=st.data(), kind=st.sampled_from(sorted(PARSERS)))
def test_hostile_bodies_never_crash_and_never_pass_bad_values(
    data: st.DataObject, kind: str
) -> None:
    """Any body: a MalformedResponse, or values that all satisfy the schema's bounds."""
    raw = data.draw(hostile_bodies(VALID[kind]))
    try:
        parsed = PARSERS[kind](raw, now=NOW)
    except MalformedResponse:
        return
    _assert_sane(kind, parsed)
