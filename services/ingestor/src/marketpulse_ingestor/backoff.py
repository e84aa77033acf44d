"""How long to wait after an upstream says no: Retry-After, and backoff with jitter. Pure.

Client libraries commonly ignore a Retry-After longer than a minute, or one given as an HTTP
date. Both are honoured here, up to a day: an upstream that asks for longer is treated as
asking for a day (and the pause is logged), so a garbled header cannot stop ingestion for
ever.
"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime

MAX_PAUSE_S = 86_400.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from `now`, from delta-seconds or an HTTP-date; None when absent or
    unreadable (the caller then backs off on its own)."""
    if value is None:
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until_date(text, now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(MAX_PAUSE_S, max(0.0, seconds))


def _seconds_until_date(text: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may parse without a zone
        return None
    return when.timestamp() - now


def backoff_s(attempt: int, base_s: float, cap_s: float, rand: float) -> float:
    """Delay before retry `attempt` (1-based): exponential, capped, with "equal jitter".

    Half the delay is fixed and half random (`rand` in [0, 1)): replicas that failed
    together spread out, yet none retries almost at once, as full jitter sometimes would.
    """
    exponent = min(max(attempt - 1, 0), 30)  # 2**30 x any sane base is past every cap
    delay = min(cap_s, base_s * 2.0**exponent)
    return delay / 2 + delay / 2 * min(max(rand, 0.0), 1.0)
