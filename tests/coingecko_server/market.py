"""The fake upstream's market: a deterministic price path and CoinGecko's response shapes.

Prices are a closed-form function of (asset, time): a few slow waves plus minute-level noise
from an integer hash. Any stretch of any length is computed at once, every request sees the
same path, and a test can compute what a candle *should* be from `price_at`.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

DAY = 86_400
HOUR = 3600
MINUTE = 60
FIVE_MIN = 300

# Sample times are offset from round boundaries, as CoinGecko's are.
FIVE_MIN_OFFSET = 17
HOURLY_OFFSET = 23

_KNOWN = {"bitcoin": 60_000.0, "ethereum": 3_000.0, "solana": 150.0}


def _seed(asset: str) -> int:
    return int.from_bytes(hashlib.sha256(asset.encode()).digest()[:4], "big")


def base_price(asset: str) -> float:
    known = _KNOWN.get(asset)
    if known is not None:
        return known
    return 10 ** (1 + (_seed(asset) % 3000) / 1000)  # 10 .. 10,000


def price_at(asset: str, times: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Price at each epoch second in `times` (noise changes once a minute)."""
    t = np.asarray(times, dtype=np.float64)
    seed = _seed(asset)
    phase = (seed % 997) / 997 * 2 * math.pi
    waves = (
        0.08 * np.sin(2 * math.pi * t / (9 * DAY) + phase)
        + 0.03 * np.sin(2 * math.pi * t / (31 * HOUR) + 2 * phase)
        + 0.01 * np.sin(2 * math.pi * t / (97 * MINUTE) + 3 * phase)
    )
    minute = (t // MINUTE).astype(np.uint64)
    mixed = (minute * np.uint64(2654435761) + np.uint64(seed)) % np.uint64(2**32)
    mixed = (mixed ^ (mixed >> np.uint64(13))) * np.uint64(1274126177) % np.uint64(2**32)
    noise = mixed.astype(np.float64) / 2**32 - 0.5
    return base_price(asset) * np.exp(waves + 0.004 * noise)


def samples(asset: str, start: float, end: float, step: int, offset: int) -> list[list[float]]:
    """[ms, price] at `k * step + offset` within [start, end]."""
    first = math.ceil((start - offset) / step) * step + offset
    times = np.arange(first, end + 1e-9, step, dtype=np.float64)
    prices = price_at(asset, times)
    return [[int(t * 1000), float(p)] for t, p in zip(times, prices, strict=True)]


def chart(asset: str, start: float, end: float, now: float) -> dict[str, list[list[float]]]:
    """A market_chart body for [start, end]: CoinGecko's granularity rules, and the latest
    price as the last point when the range reaches the present."""
    span = end - start
    if span <= DAY + 1 and end >= now - HOUR:
        points = samples(asset, start, end, FIVE_MIN, FIVE_MIN_OFFSET)
    elif span <= 90 * DAY + 1:
        points = samples(asset, start, end, HOUR, HOURLY_OFFSET)
    else:
        points = samples(asset, start, end, DAY, 0)
    if end >= now - 1:
        points.append([int(now * 1000), float(price_at(asset, now))])
    caps = [[t, p * 19e6] for t, p in points]
    volumes = [[t, 2.5e10 * (1 + 0.1 * math.sin(t / 3.6e6))] for t, _ in points]
    return {"prices": points, "market_caps": caps, "total_volumes": volumes}


def candle(asset: str, open_s: int, size: int, now: float) -> list[float]:
    """[close ms, o, h, l, c] of the candle opened at `open_s`, from minute prices; one still
    forming at `now` stops at `now`."""
    end = min(open_s + size, now)
    times = np.arange(open_s, end + 1e-9, MINUTE, dtype=np.float64)
    if times[-1] < end:
        times = np.append(times, end)
    prices = price_at(asset, times)
    return [
        (open_s + size) * 1000,
        float(prices[0]),
        float(prices.max()),
        float(prices.min()),
        float(prices[-1]),
    ]


def ohlc(asset: str, days: float, size: int, now: float) -> list[list[float]]:
    """OHLC rows for the last `days` days, stamped with close times; the candle still forming
    comes last, stamped with its future close (as CoinGecko does)."""
    first_close = math.floor((now - days * DAY) / size) * size + size
    last_open = math.floor(now / size) * size
    return [
        candle(asset, close - size, size, now)
        for close in range(first_close, last_open + size + 1, size)
    ]


def ohlc_size(days: float) -> int:
    if days <= 2:
        return 30 * MINUTE
    if days <= 30:
        return 4 * HOUR
    return 4 * DAY


def market_row(asset: str, now: float, ticker_period_s: float) -> dict[str, object]:
    """One /coins/markets row, priced at the last ticker update before `now`."""
    updated = math.floor(now / ticker_period_s) * ticker_period_s
    day = price_at(asset, np.arange(updated - DAY, updated + 1e-9, HOUR / 4))
    price = float(day[-1])
    change = price - float(day[0])
    supply = 19.7e6
    iso = datetime.fromtimestamp(updated, UTC).isoformat(timespec="milliseconds")
    return {
        "id": asset,
        "symbol": asset[:3],
        "name": asset.title(),
        "image": f"https://assets.example/coins/{asset}.png",
        "current_price": price,
        "market_cap": price * supply,
        "market_cap_rank": 1 + _seed(asset) % 100,
        "fully_diluted_valuation": price * 21e6,
        "total_volume": 2.5e10,
        "high_24h": float(day.max()),
        "low_24h": float(day.min()),
        "price_change_24h": change,
        "price_change_percentage_24h": change / float(day[0]) * 100,
        "market_cap_change_24h": change * supply,
        "market_cap_change_percentage_24h": change / float(day[0]) * 100,
        "circulating_supply": supply,
        "total_supply": 21e6,
        "max_supply": 21e6,
        "ath": float(day.max()) * 1.3,
        "ath_change_percentage": -23.1,
        "ath_date": "2024-03-14T07:10:36.635Z",
        "atl": 67.81,
        "atl_change_percentage": 99_000.0,
        "atl_date": "2013-07-06T00:00:00.000Z",
        "roi": None,
        "last_updated": iso.replace("+00:00", "Z"),
    }
