"""When to try a failed model request again, and for how long to stop asking. Pure.

The SDK's own retries are switched off (max_retries=0): it would sleep whatever a
`retry-after` header says, hours if need be, while one event waits. Here every wait is
bounded by the assessment's deadline, and a provider that asks for a long pause gets it
through the shared cooldown instead, which costs nothing while it lasts.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketpulse_common.backoff import MAX_PAUSE_S, backoff_s

# Statuses worth another try: request timeout, conflict, rate limit, any server error
# (529 = overloaded). Everything else (400, 401, 403, 404, 413, …) fails the same way again.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Without advice from the provider, pause a minute: long enough for a blip to pass, short
# enough that sentiment catches up soon after.
DEFAULT_COOLDOWN_S = 60.0
# A request the provider rejects outright (bad key, unknown model) will fail until someone
# changes a setting: ask again only every quarter hour, and log it each time.
REJECTED_COOLDOWN_S = 900.0
# The provider's retry-after is honoured whatever its length, up to the shared day-long cap.
MAX_COOLDOWN_S = MAX_PAUSE_S


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int
    base_delay_s: float = 0.5
    max_delay_s: float = 4.0
    # A quarter of each backoff is random: enough to spread replicas that failed together,
    # while every wait stays close to its step (the deadline leaves little room).
    jitter: float = 0.25

    def delay(
        self, retry: int, retry_after_s: float | None, remaining_s: float, rand: float = 1.0
    ) -> float | None:
        """Seconds before retry number `retry` (1-based), or None to give up now.

        The provider's retry-after wins over the exponential backoff (`rand` in [0, 1] draws
        its jitter); either way a wait that would end past the deadline (`remaining_s`) is
        not worth starting.
        """
        if retry > self.max_retries:
            return None
        if retry_after_s is not None:
            wait = retry_after_s
        else:
            wait = backoff_s(retry, self.base_delay_s, self.max_delay_s, rand, jitter=self.jitter)
        return wait if wait < remaining_s else None


def cooldown_s(retry_after_s: float | None, *, rejected: bool = False) -> float:
    """How long every replica stops asking after a request finally failed."""
    if rejected:
        return REJECTED_COOLDOWN_S
    if retry_after_s is None:
        return DEFAULT_COOLDOWN_S
    return min(MAX_COOLDOWN_S, max(1.0, retry_after_s))
