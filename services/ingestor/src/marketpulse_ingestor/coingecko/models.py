"""CoinGecko response bodies, validated before anything is taken from them. Pure.

An upstream body is a stranger's input: it may be an HTML error page from a CDN, truncated
JSON, numbers as strings, NaN, prices of zero or of 1e300, timestamps in the year 3000. A body
that does not match what the endpoint documents is a MalformedResponse as a whole (no part
of it is used), with a short message that never echoes the body. Numbers are strict: a JSON
number, finite, in a sane range; never a string or a boolean coerced into one.

Only the fields the ingestor uses are checked; new fields upstream adds are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from marketpulse_ingestor.errors import MalformedResponse

# No asset is quoted above a quadrillion; anything beyond is a bug upstream or an attack on
# whatever divides by it downstream.
MAX_PRICE = 1e15
MAX_AMOUNT = 1e18  # volumes and market caps, in the quote currency
MAX_CHANGE_PCT = 1e6
# CoinGecko's data starts in 2013; before Bitcoin's genesis block it is certainly wrong.
EARLIEST_S = 1_230_940_800  # 2009-01-03
# A candle still forming is stamped with its future close: allow a day, never more.
FUTURE_SLACK_S = 86_400
# A ticker's last_updated may run a little ahead of our clock, not more: its millisecond
# value orders the ticker channel, so a far-future one would block every later update.
TICKER_FUTURE_SLACK_S = 300

StrictPrice = Annotated[float, Field(strict=True, gt=0, lt=MAX_PRICE, allow_inf_nan=False)]
StrictAmount = Annotated[float, Field(strict=True, ge=0, lt=MAX_AMOUNT, allow_inf_nan=False)]
StrictChange = Annotated[
    float, Field(strict=True, gt=-MAX_CHANGE_PCT, lt=MAX_CHANGE_PCT, allow_inf_nan=False)
]
EpochMs = Annotated[int, Field(strict=True, ge=EARLIEST_S * 1000)]


class _Upstream(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MarketRow(_Upstream):
    """One coin of /coins/markets. Nullable fields are null upstream for thin markets."""

    id: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    current_price: StrictPrice | None
    price_change_percentage_24h: StrictChange | None = None
    high_24h: StrictAmount | None = None
    low_24h: StrictAmount | None = None
    total_volume: StrictAmount | None = None
    market_cap: StrictAmount | None = None
    last_updated: datetime | None


class MarketChart(_Upstream):
    """/coins/{id}/market_chart[/range]: [ms, value] series; only `prices` is used (the
    volumes are rolling 24 h sums, see timeframe_recipes)."""

    prices: list[tuple[EpochMs, StrictPrice]]


OhlcRow = tuple[EpochMs, StrictPrice, StrictPrice, StrictPrice, StrictPrice]

_MARKETS = TypeAdapter(list[dict[str, Any]])
_OHLC = TypeAdapter(list[OhlcRow])


def _json(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedResponse(f"{what}: body is not JSON") from None


def _invalid(what: str, error: ValidationError) -> MalformedResponse:
    count = error.error_count()
    return MalformedResponse(f"{what}: body does not match the schema ({count} errors)")


def parse_markets(body: bytes, *, now: float) -> list[MarketRow]:
    """Rows of /coins/markets whose timestamps are plausible at `now`."""
    what = "/coins/markets"
    try:
        raw = _MARKETS.validate_python(_json(body, what))
        rows = [MarketRow.model_validate(row) for row in raw]
    except ValidationError as e:
        raise _invalid(what, e) from None
    for row in rows:
        if row.last_updated is not None and not _plausible_update(row.last_updated, now):
            raise MalformedResponse(f"{what}: last_updated out of range")
    return rows


def _plausible_update(when: datetime, now: float) -> bool:
    if when.tzinfo is None:
        return False
    return EARLIEST_S <= when.timestamp() <= now + TICKER_FUTURE_SLACK_S


def parse_ohlc(body: bytes, *, now: float) -> list[OhlcRow]:
    """Rows [close ms, open, high, low, close] of /coins/{id}/ohlc, each a coherent candle."""
    what = "/coins/{id}/ohlc"
    try:
        rows = _OHLC.validate_python(_json(body, what))
    except ValidationError as e:
        raise _invalid(what, e) from None
    _check_times((row[0] for row in rows), now, what)
    for _, o, h, low, c in rows:
        if not (low <= min(o, c) and h >= max(o, c)):
            raise MalformedResponse(f"{what}: a candle's high/low do not bound its open/close")
    return rows


def parse_chart(body: bytes, *, now: float) -> list[tuple[int, float]]:
    """The [ms, price] samples of /coins/{id}/market_chart[/range]."""
    what = "/coins/{id}/market_chart"
    try:
        chart = MarketChart.model_validate(_json(body, what))
    except ValidationError as e:
        raise _invalid(what, e) from None
    _check_times((t for t, _ in chart.prices), now, what)
    return chart.prices


def _check_times(times_ms: Iterable[int], now: float, what: str) -> None:
    latest_ms = (now + FUTURE_SLACK_S) * 1000
    if any(t > latest_ms for t in times_ms):
        raise MalformedResponse(f"{what}: timestamps in the future")
