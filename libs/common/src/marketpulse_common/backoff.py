"""How long to wait after an upstream says no: Retry-After, and backoff with jitter. Pure.

Client libraries commonly ignore a Retry-After longer than a minute, one given as an HTTP
date, or the millisecond `retry-after-ms` that some APIs (Anthropic's among them) send. All
three are read here, up to a day: an upstream that asks for longer is treated as asking for
a day, so a garbled header cannot stop a service for ever. What a service does with the wait
(pause every replica, retry within a deadline, cool down) is its own policy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

MAX_PAUSE_S = 86_400.0
# Share of a backoff delay that is random: "equal jitter" (see backoff_s).
EQUAL_JITTER = 0.5


def retry_after_s(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from `now` (epoch s), as the upstream's headers ask; None when they
    do not say, or say nothing readable (the caller then backs off on its own).

    `retry-after-ms` (milliseconds) wins over `retry-after` (delta-seconds or an HTTP date).
    Negative or non-finite values are unreadable; a date already gone means no wait.
    """
    seconds = _delta_s(headers.get("retry-after-ms"), scale=0.001)
    if seconds is None:
        text = headers.get("retry-after")
        seconds = _delta_s(text, scale=1.0)
        if seconds is None and text is not None:
            seconds = _seconds_until_date(text.strip(), now)
    return None if seconds is None else min(MAX_PAUSE_S, seconds)


def _delta_s(text: str | None, *, scale: float) -> float | None:
    if text is None:
        return None
    try:
        seconds = float(text.strip()) * scale
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


_ASCTIME = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$")


def _seconds_until_date(text: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # RFC 9110's obsolete asctime form has no zone and means GMT; any other date without
        # its zone is too doubtful to wait on.
        if not _ASCTIME.match(text.strip()):
            return None
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def backoff_s(
    attempt: int, base_s: float, cap_s: float, rand: float, *, jitter: float = EQUAL_JITTER
) -> float:
    """Delay before retry `attempt` (1-based): exponential from `base_s`, capped at `cap_s`,
    of which the share `jitter` is random (`rand` in [0, 1]).

    Part random so replicas that failed together spread out; part fixed so none retries
    almost at once, as full jitter (`jitter=1`) sometimes would.
    """
    exponent = min(max(attempt - 1, 0), 30)  # 2**30 x any sane base is past every cap
    delay = min(cap_s, base_s * 2.0**exponent)
    return min(delay, delay * jitter_factor(rand, jitter))  # no rounding past the cap


def jitter_factor(rand: float, jitter: float = EQUAL_JITTER) -> float:
    """The share of a backoff delay waited: the fixed part plus `rand` of the random one."""
    share = min(max(jitter, 0.0), 1.0)
    return (1 - share) + share * min(max(rand, 0.0), 1.0)
