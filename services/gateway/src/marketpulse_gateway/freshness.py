"""How old a cached value is and when it counts as stale: pure functions of kind, tf and age.

A value is stale when it is older than the longest gap its producer is expected to leave
between two values, plus a grace for upstream lag:

| channel kind                              | stale after                |
|-------------------------------------------|----------------------------|
| ticker                                    | 15 min                     |
| candles, indicators, forecast, evaluation | 2 × timeframe + 5 min      |
| sentiment                                 | 2 h                        |

Age is measured from the value's `ts` (when its producer published it, wall clock), not
from market time, so a simulated market clock running faster than real time stays honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from marketpulse_common.keys import ChannelKind
from marketpulse_common.timeframes import Timeframe

# The ingestor fits ticker polls into the CoinGecko monthly budget: on the free demo plan
# that can mean one refresh every several minutes, so anything under 15 min is on schedule.
TICKER_MAX_AGE_S = 15 * 60.0
# Summaries are made per indicator update but may be throttled to spare the LLM budget.
SENTIMENT_MAX_AGE_S = 2 * 3600.0
# A per-candle value is due once per timeframe; one missed candle is tolerated, and upstream
# OHLC endpoints publish a closed candle minutes after the close.
CANDLE_GRACE_S = 5 * 60.0


@dataclass(frozen=True, slots=True)
class Freshness:
    as_of: datetime
    age_s: float
    stale: bool


def max_age_s(kind: ChannelKind, tf: Timeframe | None) -> float:
    """Oldest a value of this kind (and timeframe) may be before it counts as stale."""
    if kind is ChannelKind.TICKER:
        return TICKER_MAX_AGE_S
    if kind is ChannelKind.SENTIMENT:
        return SENTIMENT_MAX_AGE_S
    if tf is None:
        raise ValueError(f"channel kind {kind} needs a timeframe")
    return 2 * tf.seconds + CANDLE_GRACE_S


def age_s(produced_at: float, now: float) -> float:
    # Producer and gateway clocks may disagree by a little; an age is never negative.
    return max(0.0, now - produced_at)


def is_stale(kind: ChannelKind, tf: Timeframe | None, age: float) -> bool:
    return age > max_age_s(kind, tf)


def freshness(kind: ChannelKind, tf: Timeframe | None, produced_at: float, now: float) -> Freshness:
    age = age_s(produced_at, now)
    return Freshness(
        as_of=datetime.fromtimestamp(produced_at, UTC),
        age_s=round(age, 3),
        stale=is_stale(kind, tf, age),
    )


def oldest(parts: list[Freshness]) -> Freshness | None:
    """The freshness of a body made of several values: its oldest part, stale if any is."""
    if not parts:
        return None
    worst = min(parts, key=lambda part: part.as_of)
    return Freshness(worst.as_of, worst.age_s, any(part.stale for part in parts))
