"""A stored snapshot is served only as the publisher writes it: schema, seq and stamp."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Ticker, encode_payload, schema_id
from marketpulse_gateway.channel_event import ChannelEvent
from marketpulse_gateway.stored import Rejected, read_stored

TICKER = Ticker(
    asset="bitcoin", vs_currency="usd", price=1.0, volume_24h=1.0, last_updated=datetime.now(UTC)
)


def fields(**overrides: str) -> dict[str, str]:
    stored = {"s": schema_id(TICKER), "ts": "1767225600.5", "d": encode_payload(TICKER),
              "seq": "1767225600500-0", "epoch": "e1", "ver": "", "src": "coingecko"}  # fmt: skip
    return {**stored, **overrides}


def test_the_publishers_snapshot_is_served() -> None:
    snapshot = read_stored(fields())
    assert not isinstance(snapshot, Rejected) and snapshot is not None
    assert snapshot.ts == 1767225600.5


@pytest.mark.parametrize("ts", ["nan", "inf", "-inf", "-5", "1e12", "1e20"])
def test_a_stamp_that_is_no_time_of_a_publish_is_rejected(ts: str) -> None:
    """A stamp no producer wrote: not finite, before 1970, or past 2100 (age 0 and never
    stale for centuries; a 500 where it was turned into a date)."""
    assert isinstance(read_stored(fields(ts=ts)), Rejected)


def test_a_seq_beyond_the_streams_newest_entry_is_rejected() -> None:
    assert isinstance(read_stored(fields(), newest="1767225600499-0"), Rejected)
    assert not isinstance(read_stored(fields(), newest="1767225600500-0"), Rejected)


@pytest.mark.parametrize("ts", ["nan", "inf", "1e12"])
def test_a_stream_entry_whose_stamp_is_no_time_is_not_the_publishers(ts: str) -> None:
    """The live path reads stream entries, not snapshots: the same stamp is refused there
    (the reader skips the entry as it skips any foreign one)."""
    entry = {"s": schema_id(TICKER), "ts": ts, "d": encode_payload(TICKER), "epoch": "e1"}
    with pytest.raises(PoisonMessage, match="publish time"):
        ChannelEvent.from_entry("ticker:bitcoin", "1-0", entry)
