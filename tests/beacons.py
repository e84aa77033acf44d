"""Reading the services' liveness beacons, as the tests (and an operator at redis-cli) do."""

from __future__ import annotations

import orjson
from redis.asyncio import Redis

from marketpulse_common.keys import health_pattern


async def live_instances(redis: Redis, service: str = "*") -> list[dict[str, object]]:
    """Every live beacon of `service` (all services by default), by a SCAN of the keyspace."""
    found: list[dict[str, object]] = []
    async for key in redis.scan_iter(match=health_pattern(service), count=100):
        raw = await redis.get(key)
        if raw:
            found.append(orjson.loads(raw))
    return found
