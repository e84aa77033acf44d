"""The upstream call budget as arithmetic: limits, the sliding window, months, circuit state. Pure.

The per-minute ceiling is a sliding log, not a fixed window. Two fixed minute windows can
meet at a boundary (C calls at 0:59, C more at 1:00 = 2C within two seconds), which an
upstream counting over any 60 s would punish. A log of call times admits a call only while
fewer than C calls lie in the last window, so *no* window of that length, wherever it starts,
ever holds more than C calls:

    take any window [s, s + W) and the (C+1)-th call admitted in it, at time t (s <= t < s + W).
    The C calls before it in the window were made at times >= s > t - W, so the log still
    held them: that call was refused. (Redis runs the check and the insert as one script.)

That is the rule on *admission* times; the upstream counts *arrival* times. So each call is
re-stamped in the log when its answer comes (the upstream received it somewhere between),
and the log window is a little longer than the budget window (GUARD_SHARE) for the calls
still in flight: a request may leave late (a cold connection, a busy event loop) and must
still land inside the budget.

`decide` and `circuit_state` are the rules the Lua scripts in budget_store.py run, written in
Python so the guarantee is property-tested without Redis; a parity test runs both on the same
generated inputs and demands equal decisions.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

# A request may sit in the event loop or the network this long (as a share of the window)
# after admission and still be counted in budget at the upstream: 3 s of a 60 s minute.
GUARD_SHARE = 0.05
# A month counter outlives its month, so the status still shows last month for a while.
MONTH_KEY_TTL_S = 40 * 86_400

CircuitState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    calls_per_window: int
    window_s: float
    monthly_calls: int | None  # None: the plan has no monthly credit (keyless public API)

    @property
    def log_window_ms(self) -> int:
        """How far back the sliding log counts calls: the window plus the guard."""
        return round(self.window_s * (1 + GUARD_SHARE) * 1000)

    @property
    def calls_per_minute(self) -> float:
        """The ceiling as a rate per real minute (the window may be shortened in tests)."""
        return self.calls_per_window * 60.0 / self.window_s


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """When to stop calling an upstream that keeps failing, and when to try it again.

    After `threshold` failures in a row the circuit opens: every call is refused at once for
    the cooldown. Then one probe call is let through (half-open); its success closes the
    circuit, its failure re-opens it for twice as long, up to `max_cooldown_s`.
    """

    threshold: int
    cooldown_s: float
    max_cooldown_s: float
    # How long the probe may take before another replica is allowed to probe instead.
    probe_timeout_s: float


def decide(log_ms: Sequence[int], now_ms: int, limit: int, log_window_ms: int) -> int:
    """0 to admit a call at `now_ms`, else the ms until the oldest logged call leaves the
    window (admission may still be refused then, if other calls came first)."""
    recent = sorted(t for t in log_ms if t > now_ms - log_window_ms)
    if len(recent) < limit:
        return 0
    return recent[-limit] + log_window_ms - now_ms


def busiest_window(times_s: Sequence[float], window_s: float) -> int:
    """The most calls any half-open window [s, s + window_s) holds."""
    ordered = sorted(times_s)
    most = 0
    first = 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def month_of(epoch_s: float) -> str:
    """The UTC calendar month ("YYYY-MM") a call at `epoch_s` counts against."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m")


def seconds_left_in_month(epoch_s: float) -> float:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    end = datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() + days * 86_400
    return end - epoch_s


def circuit_state(open_until_ms: int, now_ms: int) -> CircuitState:
    """What the gate hash says: open while the cooldown runs, half-open after it until a
    probe succeeds (a success clears `open_until`)."""
    if open_until_ms <= 0:
        return "closed"
    return "open" if now_ms < open_until_ms else "half_open"
