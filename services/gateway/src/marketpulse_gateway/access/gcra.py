"""The Generic Cell Rate Algorithm: rate limiting as one timestamp per subject. Pure.

A subject may make `per_minute` requests per minute on average and `burst` at once. The only
state is the theoretical arrival time (TAT): when the subject's budget would be full again.
Each granted request pushes it one emission interval T = 60 s / per_minute into the future;
a request is refused while that would put it more than the tolerance τ = burst × T ahead of
now. Unlike a fixed window there is no boundary at which a client can double its burst, and
unlike a sliding log the state is one number, so Redis checks it in one small script
(rate_limit.py runs the same arithmetic in Lua) and it expires by itself.

`take` grants up to `want` requests at once: a gateway replica takes a small batch and spends
it locally, so it asks Redis once per batch instead of once per request.

Times are integer microseconds so the Lua version (IEEE doubles) computes the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

US_PER_MINUTE = 60_000_000


@dataclass(frozen=True, slots=True)
class GcraPolicy:
    interval_us: int  # T: time one request costs
    tolerance_us: int  # τ: how far ahead of now the TAT may run (burst × T)

    @classmethod
    def per_minute(cls, per_minute: int, burst: int) -> GcraPolicy:
        if per_minute < 1 or burst < 1:
            raise ValueError("per_minute and burst must be at least 1")
        interval = max(1, round(US_PER_MINUTE / per_minute))
        return cls(interval_us=interval, tolerance_us=interval * burst)

    @property
    def burst(self) -> int:
        return self.tolerance_us // self.interval_us


@dataclass(frozen=True, slots=True)
class Take:
    granted: int  # requests granted now (0 … want)
    tat_us: int  # the subject's new TAT (unchanged when nothing was granted)
    retry_after_us: int  # when nothing was granted: wait this long for one request


def take(policy: GcraPolicy, tat_us: int | None, now_us: int, want: int) -> Take:
    """Grant up to `want` requests at `now_us` given the stored TAT (None: a new subject)."""
    tat = now_us if tat_us is None or tat_us < now_us else tat_us
    room = policy.tolerance_us - (tat - now_us)
    granted = min(want, room // policy.interval_us)
    if granted < 1:
        return Take(0, tat, tat + policy.interval_us - policy.tolerance_us - now_us)
    return Take(granted, tat + granted * policy.interval_us, 0)


def expiry_ms(tat_us: int, now_us: int) -> int:
    """How long the TAT is worth keeping: once it has passed, a missing key means the same."""
    return max(1, -(-(tat_us - now_us) // 1000))
