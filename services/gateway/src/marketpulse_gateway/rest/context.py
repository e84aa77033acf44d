"""What the REST side uses of the running gateway: the parts the edge and the routes read.

The runtime's `Gateway` provides all of them (app.py hands it over); naming them here keeps
rest/ free of the runtime, and with it of every other part of the gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from marketpulse_common.settings import Settings
from marketpulse_gateway.admission import Admission
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.rest.hot_cache import HotCache
from marketpulse_gateway.rest.redis_cache import RedisCache
from marketpulse_gateway.store_health import StoreHealth


class RestContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def clock(self) -> Callable[[], float]:
        """Wall-clock time (epoch seconds) that ages and staleness are measured against."""
        ...

    @property
    def hot(self) -> HotCache:
        """L1: values ready to send."""
        ...

    @property
    def cache(self) -> RedisCache:
        """L2: the shared cache in Redis."""
        ...

    @property
    def store(self) -> StoreHealth:
        """Whether Redis answers right now."""
        ...

    @property
    def access(self) -> Admission: ...

    @property
    def metrics(self) -> GatewayMetrics: ...
