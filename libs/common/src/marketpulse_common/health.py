"""Liveness beacons: each service instance refreshes a key with a TTL; a missing key = dead.

`python -m marketpulse_common.health <service>` exits 0 when at least one instance of the
service has a live beacon; container health checks use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time

import orjson
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import health_host_key, health_key
from marketpulse_common.lifecycle import settings_or_exit
from marketpulse_common.logs import describe, get_logger

log = get_logger(__name__)

BEACON_INTERVAL_S = 5.0
# Three missed beats before an instance counts as gone.
BEACON_TTL_S = 15
# The whole health check answers within this, under the image's HEALTHCHECK --timeout (5 s).
CHECK_TIMEOUT_S = 4.0


def instance_id(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


async def beat(redis: Redis, service: str, instance: str, info: dict[str, object]) -> None:
    body = orjson.dumps({"instance": instance, "ts": time.time(), **info}).decode()
    pipe = redis.pipeline(transaction=False)
    pipe.set(health_key(service, instance), body, ex=BEACON_TTL_S)
    # The host's own key: the container health check reads it with one GET, where finding
    # the instance keys would mean a SCAN of the whole keyspace.
    pipe.set(health_host_key(service, socket.gethostname()), body, ex=BEACON_TTL_S)
    await pipe.execute()


async def run_beacon(
    redis: Redis,
    service: str,
    instance: str,
    stop: asyncio.Event,
    info: dict[str, object] | None = None,
) -> None:
    """Beat until `stop`. A beat that fails is never fatal (a missed beat is what the TTL is
    for), but the first failure and the recovery are logged: a beacon refused while the rest
    works (an ACL, a full Redis) has health checks restart a working instance, and the log
    must say why."""
    failing = False
    while not stop.is_set():
        try:
            await beat(redis, service, instance, info or {})
        except Exception as e:
            if not failing:
                log.warning(
                    "health beacon not written: health checks will count this instance down",
                    service=service,
                    instance=instance,
                    error=describe(e),
                )
            failing = True
        else:
            if failing:
                log.info("health beacon written again", service=service, instance=instance)
            failing = False
        try:
            await asyncio.wait_for(stop.wait(), BEACON_INTERVAL_S)
        except TimeoutError:
            continue
    # A clean stop says so at once instead of leaving the beacon to expire.
    with contextlib.suppress(Exception):
        await redis.delete(health_key(service, instance))


async def _this_host_is_live(
    redis_url: str, service: str, *, cluster: bool = False, timeout_s: float = CHECK_TIMEOUT_S
) -> bool:
    """One GET of this host's beacon, all of it (connecting included) within `timeout_s`."""
    client = create_redis(redis_url, retries=0, cluster=cluster)
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await client.exists(health_host_key(service, socket.gethostname())))
    finally:
        await client.aclose()


def main() -> None:
    """Container health check: exit 0 when this host's instance of the service is beating."""
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m marketpulse_common.health <service>")
    settings = settings_or_exit()
    try:
        live = asyncio.run(
            _this_host_is_live(settings.redis_dsn, sys.argv[1], cluster=settings.redis_cluster)
        )
    except Exception as e:
        raise SystemExit(f"unhealthy: {describe(e)}") from None
    raise SystemExit(0 if live else 1)


if __name__ == "__main__":
    main()
