"""The event compute consumes: a closed candle announced on a `candles:{asset}:{tf}` channel.

Pure: a stream entry's key and fields in, a channel and a validated Candle out. Anything that
cannot be one is a PoisonMessage, which the consumer dead-letters at once instead of retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Candle
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import entry_from_fields
from marketpulse_common.timeframes import Timeframe


@dataclass(frozen=True, slots=True)
class CandleEvent:
    asset: str
    tf: Timeframe
    candle: Candle
    # When the ingestor stored and announced the candle (its entry's ts, epoch seconds).
    stored_at: float = 0.0
    # The ingestor's span that stored it (W3C traceparent; "" when tracing is off).
    trace: str = ""


def parse_candle_event(stream_key: str, fields: Mapping[str, str]) -> CandleEvent:
    """Decode one entry of a candles channel stream; PoisonMessage when it is not one."""
    try:
        channel = Channel.from_stream_key(stream_key)
    except ValueError as e:
        raise PoisonMessage(f"not a channel stream: {e}") from e
    if channel.kind is not ChannelKind.CANDLES or channel.tf is None:
        raise PoisonMessage(f"expected a candles channel, got {channel.name}")
    entry = entry_from_fields(fields)
    candle = entry.decode()
    if not isinstance(candle, Candle):
        raise PoisonMessage(f"expected a candle, got schema {entry.schema!r}")
    return CandleEvent(
        asset=channel.asset, tf=channel.tf, candle=candle, stored_at=entry.ts, trace=entry.trace
    )
