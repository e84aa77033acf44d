"""Per-connection limits: token buckets and the strike count that turns into a 1008."""

from __future__ import annotations

import pytest

from marketpulse_common.settings import load_settings
from marketpulse_gateway.stream.limits import ConnectionGuard, RateLimits, StreamLimits, TokenBucket


class TestTokenBucket:
    def test_burst_then_refuse(self) -> None:
        """A full bucket allows `capacity` at once, then refuses."""
        bucket = TokenBucket(3, 1.0, now=0.0)
        assert [bucket.take(1, 0.0) for _ in range(4)] == [True, True, True, False]

    def test_refills_at_its_rate_up_to_capacity(self) -> None:
        """Tokens come back at `per_s` and never above capacity."""
        bucket = TokenBucket(2, 4.0, now=0.0)
        assert bucket.take(2, 0.0)
        assert not bucket.take(1, 0.1)  # 0.4 tokens back
        assert bucket.take(1, 0.25)  # 1.0 back
        assert bucket.take(2, 100.0)
        assert not bucket.take(1, 100.0)

    def test_cost_is_charged_whole_or_not_at_all(self) -> None:
        """A request costing more than what is left takes nothing."""
        bucket = TokenBucket(5, 0.0, now=0.0)
        assert not bucket.take(6, 0.0)
        assert bucket.take(5, 0.0)

    def test_clock_stepping_back_neither_refills_nor_drains(self) -> None:
        """A clock that goes backwards changes nothing."""
        bucket = TokenBucket(1, 1.0, now=10.0)
        assert bucket.take(1, 10.0)
        assert not bucket.take(1, 5.0)
        assert bucket.take(1, 6.0)  # one second after the (stepped-back) last look

    def test_given_back_tokens_are_capped_at_capacity(self) -> None:
        """A refund restores what was taken, never more than the bucket holds."""
        bucket = TokenBucket(3, 0.0, now=0.0)
        assert bucket.take(3, 0.0)
        bucket.give_back(3)
        bucket.give_back(3)
        assert bucket.take(3, 0.0)
        assert not bucket.take(1, 0.0)

    @pytest.mark.parametrize(("capacity", "rate"), [(0, 1.0), (1, -1.0)])
    def test_nonsense_is_refused(self, capacity: int, rate: float) -> None:
        """A bucket needs a positive capacity and a non-negative rate."""
        with pytest.raises(ValueError, match="bucket"):
            TokenBucket(capacity, rate, now=0.0)


class TestConnectionGuard:
    RATES = RateLimits(
        messages_per_s=1.0,
        message_burst=2,
        channels_per_s=1.0,
        channel_burst=3,
        strikes=2,
        strikes_forgiven_per_s=0.5,
    )

    def test_messages_and_channels_are_limited_separately(self) -> None:
        """Messages and subscribed channels each have their own bucket."""
        guard = ConnectionGuard(self.RATES, now=0.0)
        assert guard.admit_subscribe(3, 0.0)
        assert not guard.admit_subscribe(1, 0.0)
        assert guard.admit_message(0.0)
        assert guard.admit_message(0.0)
        assert not guard.admit_message(0.0)

    def test_a_refunded_subscribe_can_be_tried_again(self) -> None:
        """A subscribe answered `unavailable` gives its channels back for the retry."""
        guard = ConnectionGuard(self.RATES, now=0.0)
        assert guard.admit_subscribe(3, 0.0)
        guard.refund_subscribe(3)
        assert guard.admit_subscribe(3, 0.0)

    def test_repeated_strikes_make_an_abuser(self) -> None:
        """Strikes within the allowance pass; one more is abuse; time forgives them."""
        guard = ConnectionGuard(self.RATES, now=0.0)
        assert guard.strike(0.0)
        assert guard.strike(0.0)
        assert not guard.strike(0.0)
        fresh = ConnectionGuard(self.RATES, now=0.0)
        assert all(fresh.strike(t * 2.0) for t in range(20))  # one per 2 s is forgiven


def test_operator_limits_come_from_settings() -> None:
    """MP_WS_MAX_CHANNELS, MP_WS_QUEUE_BYTES and MP_WS_MAX_MESSAGE_BYTES set the limits."""
    settings = load_settings(ws_max_channels=7, ws_queue_bytes=65_536, ws_max_message_bytes=2048)
    limits = StreamLimits.from_settings(settings, RateLimits())
    assert (limits.max_channels, limits.queue_bytes, limits.max_message_bytes) == (7, 65_536, 2048)
