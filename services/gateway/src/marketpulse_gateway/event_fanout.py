"""Where the stream reader's events go: the in-process cache (L1) first, then the WebSocket hub.

L1 goes first so that a client that sees a delta and then GETs the resource gets that value
or a newer one, never an older one. Channels that are not streamed (evaluations) reach only
L1. A failure in L1 is logged and never stops the reader or keeps an event from the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from marketpulse_common.keys import Channel
from marketpulse_common.logs import get_logger
from marketpulse_common.tracing import enabled as tracing_enabled
from marketpulse_common.tracing import span_from_entry
from marketpulse_gateway.channel_event import ChannelEvent, EventSink

log = get_logger(__name__)


class EventFanout:
    def __init__(self, cache: EventSink, hub: EventSink, streamed: Iterable[Channel]) -> None:
        self._cache = cache
        self._hub = hub
        self._streamed = frozenset(channel.name for channel in streamed)

    def prime(self, event: ChannelEvent) -> None:
        self._to_cache(self._cache.prime, event)
        if event.channel in self._streamed:
            self._hub.prime(event)

    def publish(self, event: ChannelEvent) -> None:
        self._to_cache(self._cache.publish, event)
        if event.channel not in self._streamed:
            return
        if tracing_enabled():
            # The last hop of the trace the producer started: this gateway's fan-out.
            with span_from_entry(event.trace, "gateway fan-out", channel=event.channel):
                self._hub.publish(event)
        else:
            self._hub.publish(event)

    @staticmethod
    def _to_cache(deliver: Callable[[ChannelEvent], None], event: ChannelEvent) -> None:
        try:
            deliver(event)
        except Exception:
            log.exception("in-process cache rejected an event", channel=event.channel)
