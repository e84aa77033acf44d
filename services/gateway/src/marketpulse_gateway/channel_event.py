"""One entry of a channel stream as the gateway passes it on, and the order of positions.

The stream reader turns each entry it reads into a `ChannelEvent` and hands it to its sink
(`EventSink`): the in-process cache and the WebSocket hub both take these. Positions are
Redis stream entry ids (`<ms>-<n>`); `seq_key` orders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from marketpulse_common.publisher import entry_from_fields

SeqKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One entry of a channel stream (publisher.StreamEntry) with its channel and position."""

    channel: str
    seq: str
    key: SeqKey
    prev_seq: str | None
    epoch: str
    ts: float
    data: str
    # Where the value came from (the publisher's `src`: "coingecko", "compute", …; may be "").
    source: str = ""
    # The publishing span's W3C traceparent ("" when tracing is off).
    trace: str = ""

    @classmethod
    def from_entry(cls, channel: str, entry_id: str, fields: Mapping[str, str]) -> ChannelEvent:
        """Raises PoisonMessage for an entry that is not the publisher's."""
        entry = entry_from_fields(fields)
        return cls(
            channel=channel,
            seq=entry_id,
            key=seq_key(entry_id),
            prev_seq=entry.prev or None,
            epoch=entry.epoch,
            ts=entry.ts,
            data=entry.data,
            source=entry.source,
            trace=entry.trace,
        )


class EventSink(Protocol):
    """Where the stream reader's events go: `prime` with each stream's newest entry at start,
    then `publish` every entry read after it."""

    def prime(self, event: ChannelEvent) -> None: ...

    def publish(self, event: ChannelEvent) -> None: ...


def seq_key(seq: str) -> SeqKey:
    """Order key of a stream entry id `<ms>-<n>`; raises ValueError for anything else."""
    ms, sep, n = seq.partition("-")
    if not sep or not ms.isdigit() or not n.isdigit():
        raise ValueError(f"not a stream position: {seq!r}")
    return int(ms), int(n)
