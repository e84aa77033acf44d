"""What `marketpulse watch` shows: rows built from the channels' values. Pure (the clock is
passed in), so the table's content is tested without a terminal.

Each row says how old its value is, from the producer's own timestamp (the ticker's
`last_updated`, the indicators' and forecast's `computed_at`, the sentiment's `created_at`),
and the table says whether the stream is live: values on screen while it is reconnecting or
stale are the last known ones, and are marked so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketpulse_client.liveness import ConnectionState


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str
    age: str
    status: str  # "live", "waiting", "stale", "reconnecting", …


def channels(asset: str, tf: str) -> dict[str, str]:
    """The channels the view watches, by the part of the view they feed."""
    return {
        "ticker": f"ticker:{asset}",
        "indicators": f"indicators:{asset}:{tf}",
        "forecast": f"forecast:{asset}:{tf}",
        "sentiment": f"sentiment:{asset}",
    }


_STAMPS = {
    "ticker": "last_updated",
    "indicators": "computed_at",
    "forecast": "computed_at",
    "sentiment": "created_at",
}


def rows(values: Mapping[str, Any], state: ConnectionState, now: float) -> list[Row]:
    """The table's rows; `values` maps a part ("ticker", …) to its channel's value."""
    out: list[Row] = []
    for part, label, render in _LINES:
        value = values.get(part)
        if not isinstance(value, dict):
            out.append(Row(label, "—", "—", "waiting"))
            continue
        out.append(Row(label, _safe(render, value), _age(value.get(_STAMPS[part]), now),
                       _status(state)))  # fmt: skip
    return out


def _status(state: ConnectionState) -> str:
    return "live" if state is ConnectionState.LIVE else state.value


def _safe(render: Callable[[dict[str, Any]], str], value: dict[str, Any]) -> str:
    try:
        return render(value)
    except (KeyError, TypeError, ValueError):
        return "—"


def _num(x: Any, digits: int = 2) -> str:
    if not isinstance(x, int | float):
        return "—"
    return f"{x:,.{digits}f}"


def _indicator(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda v: _num((v.get("values") or {}).get(name))


def _change(v: dict[str, Any]) -> str:
    pct = v.get("change_24h_pct")
    return "—" if not isinstance(pct, int | float) else f"{pct:+.2f} %"


def _p_up(v: dict[str, Any]) -> str:
    return f"{v['p_up'] * 100:.1f} % up over {v['horizon']} candle(s)"


def _interval(v: dict[str, Any]) -> str:
    i = v["interval"]
    return f"{i['low'] * 100:+.2f} % … {i['high'] * 100:+.2f} % ({i['level'] * 100:.0f} %)"


def _sentiment(v: dict[str, Any]) -> str:
    return f"{v['label']} (score {v['score']:+.2f}, confidence {v['confidence']:.2f})"


_LINES: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("ticker", "Price", lambda v: f"{_num(v['price'])} {str(v.get('vs_currency', '')).upper()}"),
    ("ticker", "24h change", _change),
    ("indicators", "RSI 14", _indicator("rsi_14")),
    ("indicators", "EMA 12", _indicator("ema_12")),
    ("indicators", "EMA 26", _indicator("ema_26")),
    ("indicators", "MACD hist", _indicator("macd_hist")),
    ("forecast", "Forecast", _p_up),
    ("forecast", "Return interval", _interval),
    ("sentiment", "Sentiment", _sentiment),
]


def _age(stamp: Any, now: float) -> str:
    if not isinstance(stamp, str):
        return "—"
    try:
        seconds = max(0.0, now - datetime.fromisoformat(stamp).timestamp())
    except ValueError:
        return "—"
    return age_text(seconds)


def age_text(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"
