"""Channel events: built from the publisher's entries, ordered by their stream positions."""

from __future__ import annotations

import pytest

from marketpulse_common.errors import PoisonMessage
from marketpulse_gateway.channel_event import ChannelEvent, seq_key

FIELDS = {"s": "ticker/1", "ts": "1.5", "d": "{}", "prev": "", "epoch": "e", "src": "simulated"}


def test_an_entry_becomes_an_event_with_its_position() -> None:
    """The entry id is the event's seq and order key; an empty prev is no previous seq."""
    event = ChannelEvent.from_entry("ticker:bitcoin", "10-2", FIELDS)
    assert (event.channel, event.seq, event.key, event.prev_seq) == (
        "ticker:bitcoin",
        "10-2",
        (10, 2),
        None,
    )
    assert (event.epoch, event.ts, event.data, event.source) == ("e", 1.5, "{}", "simulated")


def test_an_entry_not_written_by_the_publisher_is_poison() -> None:
    """An entry without the publisher's fields cannot become an event."""
    with pytest.raises(PoisonMessage, match="no epoch"):
        ChannelEvent.from_entry(
            "ticker:bitcoin", "1-0", {k: v for k, v in FIELDS.items() if k != "epoch"}
        )


class TestSeqKey:
    def test_orders_numerically(self) -> None:
        """Stream ids order by milliseconds, then sequence, as numbers not strings."""
        ids = ["10-0", "9-5", "10-10", "10-2", "100-0"]
        assert sorted(ids, key=seq_key) == ["9-5", "10-0", "10-2", "10-10", "100-0"]
        assert seq_key("18446744073709551615-18446744073709551615") == (2**64 - 1, 2**64 - 1)

    @pytest.mark.parametrize(
        "bad",
        ["", "10", "a-1", "1-b", "-1", "1-", "1-2-3", "٣-1", "1-²", "18446744073709551616-0"],
    )
    def test_rejects_non_ids(self, bad: str) -> None:
        """Anything that is not `<ms>-<n>` as Redis reads it (ASCII digits, 64-bit parts) is
        rejected: a position that passes is safe to send to XRANGE."""
        with pytest.raises(ValueError, match="stream position"):
            seq_key(bad)
