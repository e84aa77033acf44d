"""A channel's stored snapshot as the gateway may serve it, or the reason it may not.

Producers validate every value before publishing, but Redis takes whatever is written to
it: a producer on a schema this gateway does not know, or a hand-made write. The stream
reader skips such an entry (stream/reader.py); the snapshot the publisher stored beside it
is refused the same way, by the WebSocket subscribe and by the REST routes, which serve
the last good value they hold instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.publisher import Snapshot, publish_time, snapshot_from_fields
from marketpulse_gateway.channel_event import seq_key


@dataclass(frozen=True, slots=True)
class Rejected:
    """A stored snapshot not in the publisher's format, or whose payload fails its schema."""

    reason: str


def read_stored(
    fields: Mapping[str, str], *, newest: str | None = None
) -> Snapshot | Rejected | None:
    """The snapshot in `fields` (a snapshot hash as read; None when empty), checked.

    Its seq must be a stream position, and, when `newest` (the id of its stream's newest
    entry, if it has one) is given, not beyond it: the publisher writes the two together, so
    a seq ahead of the stream was not written by it, and a subscriber joining from it would
    take every live update for one it already holds."""
    try:
        snapshot = snapshot_from_fields(fields)
        if snapshot is None:
            return None
        snapshot.decode()
        if publish_time(snapshot.ts) is None:
            return Rejected(f"ts {snapshot.ts!r} is not the time of a publish")
        key = seq_key(snapshot.seq)
        if newest is not None and key > seq_key(newest):
            return Rejected(f"seq {snapshot.seq} is beyond its stream's newest entry {newest}")
    except PoisonMessage as e:
        return Rejected(str(e))
    except (KeyError, ValueError) as e:
        return Rejected(f"not the publisher's snapshot: {e!r}")
    return snapshot
