"""When to try connecting again: full-jitter exponential backoff. Pure (the randomness is
injectable).

Attempt n waits a uniform random time in [0, min(cap, base × 2^n)] — "full jitter", which
spreads a crowd of clients dropped at the same moment (a gateway restart) over the whole
window instead of having them return in waves. A connection that stayed up for
`stable_after_s` proves the gateway healthy again, so the next drop starts from the base.
A server's `Retry-After` is a floor, never shortened.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

BASE_S = 0.5
CAP_S = 20.0
STABLE_AFTER_S = 10.0


@dataclass
class Backoff:
    base_s: float = BASE_S
    cap_s: float = CAP_S
    stable_after_s: float = STABLE_AFTER_S
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError("backoff needs 0 < base <= cap")

    def ceiling(self) -> float:
        """The longest the next wait can be."""
        # min() before the power would overflow for a client retrying for days.
        return min(self.cap_s, self.base_s * 2.0 ** min(self.attempt, 64))

    def next_delay(self, retry_after_s: float | None = None) -> float:
        """Seconds to wait before the next attempt; each call counts one attempt."""
        delay = self.rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay

    def connection_ended(self, lived_s: float) -> None:
        """A connection that was open this long ended: start over if it was stable."""
        if lived_s >= self.stable_after_s:
            self.attempt = 0
