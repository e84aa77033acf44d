"""Channel names, stream keys and their round trips."""

from __future__ import annotations

import pytest

from marketpulse_common.keys import Channel, ChannelKind, candles_key, lease_key
from marketpulse_common.timeframes import Timeframe


def test_channel_name_and_keys_carry_the_asset_hash_tag() -> None:
    """Every key of an asset's channel shares the `{asset}` hash tag (one cluster slot)."""
    ch = Channel(ChannelKind.INDICATORS, "bitcoin", Timeframe.H1)
    assert ch.name == "indicators:bitcoin:1h"
    assert ch.stream_key == "mp:{bitcoin}:stream:indicators:1h"
    assert ch.snapshot_key == "mp:{bitcoin}:snap:indicators:1h"
    assert candles_key("bitcoin", Timeframe.H1) == "mp:{bitcoin}:candles:1h"


@pytest.mark.parametrize(
    "name", ["ticker:bitcoin", "candles:ethereum:5m", "sentiment:solana", "forecast:x-y:1d"]
)
def test_parse_round_trips_through_name_and_stream_key(name: str) -> None:
    """A channel parsed from its name, or from its stream key, is the same channel."""
    ch = Channel.parse(name)
    assert ch.name == name
    assert Channel.from_stream_key(ch.stream_key) == ch


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("quotes:bitcoin", "unknown channel kind"),
        ("ticker:bitcoin:1h", "must look like ticker:<asset>"),
        ("candles:bitcoin", "must look like candles:<asset>:<tf>"),
        ("candles:bitcoin:7m", "unknown timeframe"),
        ("ticker:Bit Coin", "invalid asset id"),
    ],
)
def test_parse_rejects_bad_names_with_a_readable_reason(name: str, message: str) -> None:
    """A malformed channel name raises ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        Channel.parse(name)


def test_from_stream_key_rejects_other_keys() -> None:
    """Keys that are not channel streams are refused rather than misparsed."""
    with pytest.raises(ValueError, match="not a channel stream key"):
        Channel.from_stream_key("mp:{bitcoin}:candles:1h")


def test_lease_keys_are_hash_tagged_by_job() -> None:
    """A lease key and its fence counter live in the same cluster slot."""
    assert lease_key("ticker") == "mp:lease:{ticker}"


def test_timeframe_floor_and_last_closed() -> None:
    """Candles align to UTC epoch multiples; the last closed one ends at the current floor."""
    tf = Timeframe.H1
    assert tf.floor(7199) == 3600
    assert tf.last_closed_open(7200) == 3600
    assert tf.last_closed_open(7199) == 0
