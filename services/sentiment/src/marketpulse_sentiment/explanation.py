"""The heuristic's reading put into words: a one-line summary and at most five drivers.

Every string is cut to the Sentiment limits (summary 280, drivers 120 characters) here, so
the model's validation never rejects what the rules produced, whatever the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from marketpulse_common.events import SkillVerdict
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.reading import FrameReading, Reading

SUMMARY_MAX = 280
DRIVER_MAX = 120
MAX_DRIVERS = 5
# A component this far from 0 has a direction worth naming; nearer, it is "flat"/"mixed".
DIRECTION_BAND = 0.25
RSI_OVERBOUGHT = 70.0
RSI_OVERSOLD = 30.0


def fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: float, spec: str) -> str:
    """`value` with `spec`, falling back to 3 significant digits for absurd magnitudes."""
    return format(value, spec) if abs(value) < 1e4 else format(value, ".3g")


def direction(value: float, up: str, down: str, level: str) -> str:
    return up if value > DIRECTION_BAND else down if value < -DIRECTION_BAND else level


def _tfs(frames: Iterable[FrameReading], keep: Callable[[FrameReading], bool]) -> str:
    names: list[Timeframe] = [f.signals.tf for f in frames if keep(f)]
    return ", ".join(tf.value for tf in names)


def _trend_driver(reading: Reading) -> str | None:
    if reading.trend is None:
        return None
    by_word: dict[str, list[str]] = {"up": [], "flat": [], "down": []}
    for f in reading.frames:
        if f.trend is not None:
            by_word[direction(f.trend, "up", "down", "flat")].append(f.signals.tf.value)
    groups = [f"{word} on {', '.join(tfs)}" for word, tfs in by_word.items() if tfs]
    overall = direction(reading.trend, "up", "down", "sideways")
    return f"Trend {overall} vs EMAs: {'; '.join(groups)}"


def _rsi_driver(reading: Reading) -> str | None:
    frames = [f for f in reading.frames if f.signals.rsi is not None]
    if not frames:
        return None
    levels = ", ".join(f"{f.signals.rsi:.0f} on {f.signals.tf.value}" for f in frames)
    notes = []
    if hot := _tfs(frames, lambda f: (f.signals.rsi or 0.0) >= RSI_OVERBOUGHT):
        notes.append(f"overbought on {hot}")
    if cold := _tfs(frames, lambda f: (f.signals.rsi or 100.0) <= RSI_OVERSOLD):
        notes.append(f"oversold on {cold}")
    return f"RSI {levels}" + (f" ({'; '.join(notes)})" if notes else "")


def _macd_driver(reading: Reading) -> str | None:
    frames = [f for f in reading.frames if f.signals.macd_hist is not None]
    if not frames:
        return None
    above = _tfs(frames, lambda f: (f.signals.macd_hist or 0.0) > 0)
    below = _tfs(frames, lambda f: (f.signals.macd_hist or 0.0) < 0)
    parts = [f"above signal on {above}" if above else "", f"below on {below}" if below else ""]
    return "MACD " + ("; ".join(p for p in parts if p) or "on its signal line")


def _volatility_driver(reading: Reading) -> str | None:
    if reading.daily_volatility is None:
        return None
    pct = number(reading.daily_volatility * 100, ".1f")
    return f"Volatility {reading.regime}: about {pct}% a day"


def _change_driver(reading: Reading) -> str | None:
    if reading.change_24h_pct is None:
        return None
    return f"24 h change {number(reading.change_24h_pct, '+.1f')}%"


_SKILL_WORDS: dict[SkillVerdict | None, str] = {
    "beats": "beats the base rate",
    "no better": "no better than the base rate",
    "worse": "worse than the base rate, ignored",
    "insufficient data": "too few scored",
    None: "not scored yet",
}


def _forecast_driver(reading: Reading) -> str | None:
    if not reading.forecasts:
        return None
    parts = [
        f"{view.p_up:.0%} on {tf.value} ({_SKILL_WORDS[view.skill]})"
        for tf, view in reading.forecasts
    ]
    return "Forecast P(up) " + "; ".join(parts)


def drivers(reading: Reading) -> list[str]:
    # Most telling first: when there are more than five, the volatility (also named in the
    # summary) is the one left out.
    found = [
        _trend_driver(reading),
        _rsi_driver(reading),
        _macd_driver(reading),
        _forecast_driver(reading),
        _change_driver(reading),
        _volatility_driver(reading),
    ]
    return [fit(d, DRIVER_MAX) for d in found if d][:MAX_DRIVERS]


def summary(reading: Reading) -> str:
    parts = []
    if reading.trend is not None:
        parts.append("trend " + direction(reading.trend, "up", "down", "sideways"))
    if reading.momentum is not None:
        parts.append("momentum " + direction(reading.momentum, "positive", "negative", "mixed"))
    if reading.forecast is not None:
        parts.append("forecast " + direction(reading.forecast, "leans up", "leans down", "flat"))
    if reading.regime is not None:
        parts.append(f"volatility {reading.regime}")
    if reading.change_24h_pct is not None:
        parts.append(f"24 h {number(reading.change_24h_pct, '+.1f')}%")
    if not parts:
        return fit(
            f"{reading.asset} reads neutral: no usable ticker or indicator values yet.", SUMMARY_MAX
        )
    head = f"{reading.asset} reads {reading.label} "
    head += f"(score {reading.score:+.2f}, confidence {reading.confidence:.2f})"
    return fit(f"{head}: {', '.join(parts)}.", SUMMARY_MAX)


def describe(reading: Reading) -> tuple[str, list[str]]:
    """(summary, drivers) for a heuristic reading."""
    return summary(reading), drivers(reading)
