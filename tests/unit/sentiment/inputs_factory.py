"""Hand-built indicator values for the sentiment tests, named as compute names them."""

from __future__ import annotations

from datetime import UTC, datetime

from marketpulse_common.events import CandleWindow, Indicators, Ticker
from marketpulse_common.timeframes import Timeframe

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def frame(
    price: float,
    *,
    trend: float,
    rsi: float,
    hist: float,
    volatility: float = 0.004,
) -> dict[str, float | None]:
    """Indicator values with EMAs `trend` apart (fast above slow for trend > 0)."""
    return {
        "ema_12": price * (1 - trend),
        "ema_26": price * (1 - 2 * trend),
        "ema_50": price * (1 - 3 * trend),
        "rsi_14": rsi,
        "macd": price * trend,
        "macd_signal": price * trend - hist,
        "macd_hist": hist,
        "bb_upper": price * 1.02,
        "bb_middle": price,
        "bb_lower": price * 0.98,
        "atr_14": price * 0.01,
        "volatility_20": volatility,
    }


def indicators(
    asset: str, tf: Timeframe, values: dict[str, float | None], *, window: int = 99
) -> Indicators:
    """Indicators over `window + 1` candles whose last opened at `window` × tf."""
    return Indicators(
        asset=asset,
        tf=tf,
        window=CandleWindow(
            tf=tf, first_open=0, last_open=tf.seconds * window, count=window + 1, input_hash="h"
        ),
        params={"rsi_period": 14.0},
        lookback={"rsi_14": 14},
        values=values,
        computed_at=NOW,
    )


def ticker(asset: str, price: float, change_24h_pct: float | None) -> Ticker:
    return Ticker(
        asset=asset,
        vs_currency="usd",
        price=price,
        change_24h_pct=change_24h_pct,
        last_updated=NOW,
    )
