"""What the stream route uses of the running gateway: the hub, the history reads and the rest.

The runtime's `Gateway` provides all of them (app.py puts it in the app's state); naming them
here keeps stream/ free of the runtime, and with it of every other part of the gateway.
"""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends
from starlette.requests import HTTPConnection

from marketpulse_common.settings import Settings
from marketpulse_gateway.admission import Admission
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.stream.history import StreamHistory
from marketpulse_gateway.stream.hub import Hub
from marketpulse_gateway.stream.limits import RateLimits


class StreamTuning(Protocol):
    @property
    def ws_rates(self) -> RateLimits:
        """Per-connection message and subscribe rates."""
        ...

    @property
    def ws_close_grace_s(self) -> float:
        """How long a client the server closes has to read its backlog and answer the close."""
        ...


class StreamContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def tuning(self) -> StreamTuning: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def hub(self) -> Hub: ...

    @property
    def history(self) -> StreamHistory:
        """Snapshots and channel history for subscribes."""
        ...

    @property
    def stream_ready(self) -> bool:
        """Whether the stream reader knows every channel's position: before that, an update
        published meanwhile could reach no subscriber (it only primes the hub)."""
        ...

    @property
    def access(self) -> Admission: ...

    @property
    def metrics(self) -> GatewayMetrics: ...


def get_gateway(connection: HTTPConnection) -> StreamContext:
    # Put there by the app's lifespan (app.py) while the gateway runs.
    return cast(StreamContext, connection.app.state.gateway)


GatewayDep = Annotated[StreamContext, Depends(get_gateway)]
