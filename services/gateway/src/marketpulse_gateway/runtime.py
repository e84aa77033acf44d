"""The gateway's running parts, opened and closed together by the app's lifespan.

Everything a request or a WebSocket needs hangs off one `Gateway` object; its owner (the
lifespan) starts the background tasks and cancels them on the way out, then closes Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from marketpulse_common.connection import MAX_BLOCK_MS, create_redis
from marketpulse_common.health import instance_id, run_beacon
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings
from marketpulse_gateway.access.gatekeeper import Gatekeeper
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.event_fanout import EventFanout
from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.rest.hot_cache import HotCache
from marketpulse_gateway.rest.redis_cache import RedisCache
from marketpulse_gateway.store_health import StoreHealth
from marketpulse_gateway.stream.history import StreamHistory
from marketpulse_gateway.stream.hub import Hub, send_heartbeats
from marketpulse_gateway.stream.hub_metrics import StreamMetrics
from marketpulse_gateway.stream.limits import RateLimits
from marketpulse_gateway.stream.reader import StreamReader

log = get_logger(__name__)

SERVICE = "gateway"


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the stream machinery: production defaults; tests shorten the timings."""

    # DESIGN §7: a quiet connection still hears from the server every 15 s.
    heartbeat_s: float = 15.0
    # WebSocket per-connection rates (stream/limits.py), and how long a client the server closes
    # has to read its backlog and answer the close before it is cut off.
    ws_rates: RateLimits = field(default_factory=RateLimits)
    ws_close_grace_s: float = 5.0
    block_ms: int = MAX_BLOCK_MS
    # Start-up waits this long for the stream positions, then serves anyway (Redis may be
    # down; the reader keeps retrying and /readyz says so).
    ready_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Gateway:
    settings: Settings
    tuning: Tuning
    catalog: Catalog
    cache: RedisCache
    hub: Hub
    reader: StreamReader
    reader_task: asyncio.Task[None]
    clock: Callable[[], float]
    metrics: GatewayMetrics
    hot: HotCache  # L1: values ready to send (the hot path and the routes)
    access: Gatekeeper  # API keys, rate limits, CORS
    store: StoreHealth  # whether Redis answers right now
    history: StreamHistory  # snapshots and channel history for WebSocket subscribes

    @property
    def reader_alive(self) -> bool:
        return not self.reader_task.done()

    @property
    def stream_ready(self) -> bool:
        return self.reader.ready.is_set()


@asynccontextmanager
async def open_gateway(
    settings: Settings, catalog: Catalog, tuning: Tuning, clock: Callable[[], float]
) -> AsyncIterator[Gateway]:
    redis = create_redis(settings.redis_dsn, client_name=SERVICE, cluster=settings.redis_cluster)
    # Checks on the request path (rate limits, keys, the watch) fail fast instead of retrying.
    guard = create_redis(
        settings.redis_dsn,
        client_name=f"{SERVICE}-guard",
        retries=0,
        cluster=settings.redis_cluster,
    )
    metrics, store = GatewayMetrics(), StoreHealth()
    hot = HotCache(catalog, metrics, clock=clock)
    metrics.watch(redis_up=lambda: store.reachable, ages=hot.ages)
    hub = Hub(StreamMetrics(metrics))
    sink = EventFanout(hot, hub, catalog.channels)
    stop = asyncio.Event()
    reader = StreamReader(redis, catalog.cached_channels, sink, block_ms=tuning.block_ms, stop=stop)
    tasks = [
        asyncio.create_task(reader.run(), name="stream-reader"),
        asyncio.create_task(send_heartbeats(hub, tuning.heartbeat_s, clock), name="heartbeats"),
        asyncio.create_task(run_beacon(redis, SERVICE, instance_id(SERVICE), stop), name="beacon"),
        asyncio.create_task(store.watch(guard), name="redis-watch"),
    ]
    for task in tasks:
        task.add_done_callback(report_death)
    try:
        await _wait_ready(reader, tuning.ready_timeout_s)
        yield Gateway(
            settings,
            tuning,
            catalog,
            RedisCache(redis),
            hub,
            reader,
            tasks[0],
            clock,
            metrics=metrics,
            hot=hot,
            access=Gatekeeper.build(settings, guard, store, metrics),
            store=store,
            history=StreamHistory(redis),
        )
    finally:
        stop.set()
        hub.close_all()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await redis.aclose()
        await guard.aclose()


def report_death(task: asyncio.Task[Any]) -> None:
    """Log a background task that ended with an exception, with its traceback, when it ends:
    /healthz then asks for a restart, which would otherwise erase why."""
    if task.cancelled() or (error := task.exception()) is None:
        return
    log.error("background task died", task=task.get_name(), exc_info=error)


async def _wait_ready(reader: StreamReader, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader.ready.wait(), timeout_s)
    if not reader.ready.is_set():
        log.warning("serving before stream positions are known; is Redis reachable?")
