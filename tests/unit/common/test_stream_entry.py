"""A channel stream entry parses as the publisher wrote it, or is poison."""

from __future__ import annotations

import pytest

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Candle, encode_payload
from marketpulse_common.publisher import StreamEntry, entry_from_fields

CANDLE = Candle(t=3600, o=1.0, h=2.0, l=0.5, c=1.5, v=3.0)
FIELDS = {
    "s": "candle/1",
    "ts": "1700000000.5",
    "d": encode_payload(CANDLE),
    "prev": "1-0",
    "epoch": "e1",
    "src": "coingecko",
}


def test_every_field_is_read() -> None:
    """Schema, publish time, data, epoch, the previous seq and the source all come through."""
    assert entry_from_fields(FIELDS) == StreamEntry(
        schema="candle/1",
        ts=1700000000.5,
        data=encode_payload(CANDLE),
        epoch="e1",
        prev="1-0",
        source="coingecko",
    )


def test_the_payload_decodes_to_its_model() -> None:
    """decode() validates the data against the entry's schema."""
    assert entry_from_fields(FIELDS).decode() == CANDLE


def test_prev_and_source_may_be_absent() -> None:
    """An epoch's first entry has no prev to name; entries older than `src` have none."""
    fields = {k: v for k, v in FIELDS.items() if k not in ("prev", "src")}
    entry = entry_from_fields(fields)
    assert (entry.prev, entry.source) == ("", "")


@pytest.mark.parametrize(
    ("missing", "reason"),
    [("s", "no schema"), ("ts", "no ts"), ("d", "no data"), ("epoch", "no epoch")],
)
def test_an_entry_without_a_required_field_is_poison(missing: str, reason: str) -> None:
    """The error names the field that is missing."""
    fields = {k: v for k, v in FIELDS.items() if k != missing}
    with pytest.raises(PoisonMessage, match=reason):
        entry_from_fields(fields)


def test_a_publish_time_that_is_not_a_number_is_poison() -> None:
    """`ts` must parse as a number."""
    with pytest.raises(PoisonMessage, match="ts is not a number"):
        entry_from_fields({**FIELDS, "ts": "yesterday"})


def test_a_payload_that_does_not_match_its_schema_is_poison() -> None:
    """decode() turns a payload its schema rejects into PoisonMessage, as every reader needs."""
    with pytest.raises(PoisonMessage, match="does not match"):
        entry_from_fields({**FIELDS, "d": "{}"}).decode()
