"""The catalog: which assets, timeframes and channels this gateway serves."""

from __future__ import annotations

import pytest

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.errors import ProtocolError, UnknownAsset, UnservedTimeframe

CATALOG = Catalog(["bitcoin", "ethereum"], [Timeframe.M5, Timeframe.H1])


def test_channels_cover_every_streamed_kind() -> None:
    """Per asset: ticker and sentiment, plus candles, indicators and forecast per timeframe."""
    assert len(CATALOG.channels) == 2 * (2 + 3 * 2)
    assert Channel(ChannelKind.INDICATORS, "ethereum", Timeframe.H1) in CATALOG.channels
    assert not any(c.kind is ChannelKind.EVALUATION for c in CATALOG.channels)


def test_resolve_served_channel() -> None:
    """A served channel name resolves to its Channel."""
    assert CATALOG.resolve("candles:bitcoin:5m") == Channel(
        ChannelKind.CANDLES, "bitcoin", Timeframe.M5
    )


@pytest.mark.parametrize(
    "name",
    [
        "ticker:dogecoin",
        "candles:bitcoin:1d",
        "candles:bitcoin",
        "ticker:bitcoin:1h",
        "weather:bitcoin",
        "evaluation:bitcoin:1h",
        "ticker:BITCOIN",
        "",
    ],
)
def test_resolve_rejects_unserved(name: str) -> None:
    """Unknown kinds, assets, timeframes and shapes are unknown_channel, naming the channel."""
    with pytest.raises(ProtocolError) as caught:
        CATALOG.resolve(name)
    assert caught.value.code == "unknown_channel"
    assert caught.value.channel == name


def test_checks_for_rest() -> None:
    """REST checks: untracked asset and unserved timeframe raise the gateway's errors."""
    assert CATALOG.check_asset("bitcoin") == "bitcoin"
    with pytest.raises(UnknownAsset):
        CATALOG.check_asset("dogecoin")
    with pytest.raises(UnservedTimeframe, match="5m, 1h"):
        CATALOG.check_timeframe(Timeframe.D1)
