"""GCRA arithmetic: burst, refusal with the exact wait, steady refill, batched grants."""

from __future__ import annotations

import pytest

from marketpulse_gateway.access.gcra import GcraPolicy, expiry_ms, take

# 60/min = one request per second, 5 at once.
POLICY = GcraPolicy.per_minute(60, 5)
SECOND = 1_000_000
NOW = 1_700_000_000 * SECOND


def drain(tat: int | None, now: int, count: int) -> tuple[int | None, list[int]]:
    granted = []
    for _ in range(count):
        result = take(POLICY, tat, now, 1)
        granted.append(result.granted)
        tat = result.tat_us
    return tat, granted


def test_policy_from_limits() -> None:
    """60/min means one second per request; the burst is the tolerance in requests."""
    assert POLICY.interval_us == SECOND
    assert POLICY.tolerance_us == 5 * SECOND
    assert POLICY.burst == 5


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (1, 0)])
def test_policy_needs_positive_limits(per_minute: int, burst: int) -> None:
    """A zero limit is not a policy (limiting off is decided before)."""
    with pytest.raises(ValueError, match="at least 1"):
        GcraPolicy.per_minute(per_minute, burst)


def test_new_subject_gets_the_whole_burst_then_waits_one_interval() -> None:
    """A fresh subject may send `burst` requests at once; the next waits exactly T."""
    tat, granted = drain(None, NOW, 6)
    assert granted == [1, 1, 1, 1, 1, 0]
    refused = take(POLICY, tat, NOW, 1)
    assert refused.retry_after_us == SECOND
    assert refused.tat_us == tat  # a refusal spends nothing


def test_budget_refills_at_the_rate() -> None:
    """After the burst, one request per interval is granted, not more."""
    tat, _ = drain(None, NOW, 5)
    assert take(POLICY, tat, NOW + SECOND // 2, 1).granted == 0
    assert take(POLICY, tat, NOW + SECOND, 1).granted == 1
    tat, granted = drain(tat, NOW + 3 * SECOND, 4)
    assert granted == [1, 1, 1, 0]


def test_batch_grants_what_is_left() -> None:
    """Asking for a batch grants up to what the tolerance allows, and advances the TAT by it."""
    first = take(POLICY, None, NOW, 3)
    assert (first.granted, first.tat_us) == (3, NOW + 3 * SECOND)
    second = take(POLICY, first.tat_us, NOW, 10)
    assert (second.granted, second.tat_us) == (2, NOW + 5 * SECOND)
    assert take(POLICY, second.tat_us, NOW, 10).granted == 0


def test_an_old_tat_counts_as_now() -> None:
    """A subject idle for long has its full burst again, not a banked surplus."""
    assert take(POLICY, NOW - 3600 * SECOND, NOW, 100).granted == 5


def test_expiry_covers_the_time_until_the_budget_is_full() -> None:
    """The stored TAT may vanish once it has passed; before that it must stay."""
    assert expiry_ms(NOW + 2 * SECOND, NOW) == 2000
    assert expiry_ms(NOW + 1, NOW) == 1
    assert expiry_ms(NOW, NOW) == 1
