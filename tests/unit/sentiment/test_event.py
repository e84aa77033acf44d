"""Only a valid indicators or forecast event on its own channel triggers a refresh."""

from __future__ import annotations

import pytest

from marketpulse_common.consumer import StreamMessage
from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import encode_payload
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.worker import event_asset
from tests.unit.sentiment.inputs_factory import forecast, frame, indicators, ticker

H1 = Timeframe.H1
STREAM = Channel(ChannelKind.INDICATORS, "bitcoin", H1).stream_key


def message(stream: str, schema: str, data: str) -> StreamMessage:
    fields = {"s": schema, "ts": "1", "d": data, "prev": "", "epoch": "e", "src": "compute"}
    return StreamMessage(stream, "1-0", fields, 1)


def test_an_indicators_event_names_its_asset() -> None:
    """The event's stream and payload agree: the asset is returned."""
    data = encode_payload(indicators("bitcoin", H1, frame(100.0, trend=0, rsi=50, hist=0)))
    assert event_asset(message(STREAM, "indicators/1", data)) == "bitcoin"


def test_a_forecast_event_names_its_asset() -> None:
    """Forecast events trigger a refresh too (a forecast lands after its indicators)."""
    stream = Channel(ChannelKind.FORECAST, "bitcoin", H1).stream_key
    data = encode_payload(forecast("bitcoin", H1, 0.6))
    assert event_asset(message(stream, "forecast/1", data)) == "bitcoin"


@pytest.mark.parametrize(
    ("stream", "schema", "data"),
    [
        (STREAM, "indicators/1", "{not json"),
        (STREAM, "ticker/1", encode_payload(ticker("bitcoin", 1.0, None))),
        (
            STREAM,
            "indicators/1",
            encode_payload(indicators("ethereum", H1, {})),
        ),
        (STREAM, "indicators/1", encode_payload(indicators("bitcoin", Timeframe.D1, {}))),
        (STREAM, "forecast/1", encode_payload(forecast("bitcoin", H1, 0.6))),
        (Channel(ChannelKind.TICKER, "bitcoin").stream_key, "indicators/1", "{}"),
        (
            Channel(ChannelKind.EVALUATION, "bitcoin", H1).stream_key,
            "indicators/1",
            encode_payload(indicators("bitcoin", H1, {})),
        ),
        ("somewhere:else", "indicators/1", "{}"),
    ],
    ids=[
        "bad-json",
        "other-schema",
        "other-asset",
        "other-timeframe",
        "forecast-on-indicators",
        "other-kind",
        "evaluation-stream",
        "not-a-channel",
    ],
)
def test_anything_else_is_poison(stream: str, schema: str, data: str) -> None:
    """Malformed, mislabelled or misplaced events are dead-lettered, not retried."""
    with pytest.raises(PoisonMessage):
        event_asset(message(stream, schema, data))
