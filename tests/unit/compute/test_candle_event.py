"""A candles stream entry decodes to its channel and candle, or is poison."""

from __future__ import annotations

import pytest

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Candle, encode_payload
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.candle_event import parse_candle_event

CANDLES = Channel(ChannelKind.CANDLES, "bitcoin", Timeframe.H1).stream_key
CANDLE = Candle(t=7200, o=100.0, h=102.0, l=99.0, c=101.0, v=3.0)


def entry(schema: str = "candle/1", data: str | None = None) -> dict[str, str]:
    """Fields as the publisher writes them."""
    return {"s": schema, "ts": "1.0", "d": data or encode_payload(CANDLE), "prev": "", "epoch": "e"}


def test_a_candle_entry_names_its_asset_timeframe_and_candle() -> None:
    """The stream key gives asset and timeframe; the payload gives the candle."""
    event = parse_candle_event(CANDLES, entry())
    assert (event.asset, event.tf, event.candle) == ("bitcoin", Timeframe.H1, CANDLE)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(entry(data="{not json"), "does not match", id="bad-json"),
        pytest.param(entry(data='{"t": 1, "o": 1}'), "does not match", id="missing-fields"),
        pytest.param(entry(schema="candle/9"), "unknown schema", id="unknown-schema"),
        pytest.param({"d": encode_payload(CANDLE)}, "no schema", id="no-schema-field"),
        pytest.param(
            entry(
                schema="ticker/1",
                data='{"asset":"bitcoin","vs_currency":"usd","price":1.0,'
                '"last_updated":"2024-01-01T00:00:00Z"}',
            ),
            "expected a candle",
            id="wrong-model",
        ),
    ],
)
def test_malformed_entries_are_poison(fields: dict[str, str], reason: str) -> None:
    """Anything that is not a valid candle payload can never succeed: PoisonMessage."""
    with pytest.raises(PoisonMessage, match=reason):
        parse_candle_event(CANDLES, fields)


def test_an_entry_from_another_kind_of_stream_is_poison() -> None:
    """An entry read from a non-candles stream is not a candle event."""
    ticker = Channel(ChannelKind.TICKER, "bitcoin").stream_key
    with pytest.raises(PoisonMessage, match="expected a candles channel"):
        parse_candle_event(ticker, entry())


def test_an_entry_from_an_unknown_key_is_poison() -> None:
    """A key that is not a channel stream at all is poison, not a crash."""
    with pytest.raises(PoisonMessage, match="not a channel stream"):
        parse_candle_event("mp:somewhere:else", entry())
