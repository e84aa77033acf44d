"""What this gateway serves: the configured assets and timeframes, and the channels they make.

REST and WebSocket both ask the catalog, so "unknown asset", "timeframe not served" and
"unknown channel" mean the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.errors import ProtocolError, UnknownAsset, UnservedTimeframe

# DESIGN §7: the channels a client may subscribe to. Evaluations are REST-only: they change
# rarely and are too large to be worth streaming.
ASSET_KINDS = (ChannelKind.TICKER, ChannelKind.SENTIMENT)
TIMEFRAME_KINDS = (ChannelKind.CANDLES, ChannelKind.INDICATORS, ChannelKind.FORECAST)
# Channels the gateway follows for its in-process cache but never streams.
CACHED_ONLY_KINDS = (ChannelKind.EVALUATION,)

# The timeframe a request gets when it names none (DESIGN §6 examples use 1h).
DEFAULT_TIMEFRAME = Timeframe.H1
# A dashboard's chart rarely shows more; the bound keeps one response small and fast.
MAX_CANDLES = 1000
DEFAULT_CANDLES = 200


class Catalog:
    __slots__ = ("_asset_set", "_tf_set", "assets", "cached_channels", "channels", "timeframes")

    def __init__(self, assets: Iterable[str], timeframes: Iterable[Timeframe]) -> None:
        self.assets = tuple(assets)
        self.timeframes = tuple(timeframes)
        self._asset_set = frozenset(self.assets)
        self._tf_set = frozenset(self.timeframes)
        # What WebSocket clients may subscribe to.
        self.channels = tuple(self._all_channels())
        # What the stream reader follows: the streamed channels and the REST-only ones.
        self.cached_channels = self.channels + tuple(
            Channel(kind, asset, tf)
            for asset in self.assets
            for tf in self.timeframes
            for kind in CACHED_ONLY_KINDS
        )

    def _all_channels(self) -> Iterable[Channel]:
        for asset in self.assets:
            for kind in ASSET_KINDS:
                yield Channel(kind, asset)
            for tf in self.timeframes:
                for kind in TIMEFRAME_KINDS:
                    yield Channel(kind, asset, tf)

    def check_asset(self, asset: str) -> str:
        if asset not in self._asset_set:
            raise UnknownAsset(asset)
        return asset

    def check_timeframe(self, tf: Timeframe) -> Timeframe:
        if tf not in self._tf_set:
            raise UnservedTimeframe(tf.value, [t.value for t in self.timeframes])
        return tf

    def resolve(self, name: str) -> Channel:
        """The channel a client named; ProtocolError `unknown_channel` if it is not served."""
        try:
            channel = Channel.parse(name)
        except ValueError as e:
            raise ProtocolError("unknown_channel", str(e), channel=name) from None
        if channel.asset not in self._asset_set:
            raise ProtocolError("unknown_channel", "asset is not tracked", channel=name)
        if channel.tf is not None and channel.tf not in self._tf_set:
            raise ProtocolError("unknown_channel", "timeframe is not served", channel=name)
        if channel.kind not in ASSET_KINDS and channel.kind not in TIMEFRAME_KINDS:
            raise ProtocolError("unknown_channel", f"{channel.kind} is not streamed", channel=name)
        return channel


def channel_label(channel: Channel) -> str:
    """A channel's name under its asset (in /readyz and the data-age metric): `ticker`,
    `indicators:1h`."""
    return channel.kind.value if channel.tf is None else f"{channel.kind.value}:{channel.tf.value}"
