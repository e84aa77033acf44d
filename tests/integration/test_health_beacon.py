"""The liveness beacon: a beat Redis refuses is logged once, and so is the recovery."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from marketpulse_common import health
from marketpulse_common.connection import create_redis
from marketpulse_common.keys import health_key
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def test_a_refused_beat_is_logged_once_and_its_recovery_too(
    redis: Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ACL that refuses SET (the service otherwise works): health checks will count the
    instance down, and the log says so once, not at every beat; then that it beats again."""
    monkeypatch.setattr(health, "BEACON_INTERVAL_S", 0.05)
    user, password = f"beacon-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await redis.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"],
                            commands=["+@all", "-set"])  # fmt: skip
    host = redis_url.removeprefix("redis://")
    beacon_redis = create_redis(f"redis://{user}:{password}@{host}", client_name="beacon")
    stop, instance = asyncio.Event(), f"test-{uuid.uuid4().hex[:8]}"
    try:
        with capture_logs() as logs:
            beating = asyncio.create_task(health.run_beacon(beacon_redis, "test", instance, stop))

            def events() -> list[str]:
                return [e["event"] for e in logs if e.get("instance") == instance]

            async def refused_thrice() -> bool:
                denied = [e for e in await redis.acl_log() if e.get("username") == user]
                return sum(int(e["count"]) for e in denied) >= 3

            await eventually(refused_thrice, timeout=10, what="three refused beats")
            assert not await redis.exists(health_key("test", instance))
            assert len(events()) == 1
            await redis.acl_setuser(user, enabled=True, commands=["+set"])
            await eventually(
                lambda: redis.exists(health_key("test", instance)), timeout=10, what="a beat"
            )
            stop.set()
            await beating
        assert events() == [
            "health beacon not written: health checks will count this instance down",
            "health beacon written again",
        ]
        error = next(e["error"] for e in logs if e.get("instance") == instance)
        assert error.startswith("NoPermissionError: ") and "set" in error
    finally:
        stop.set()
        await beacon_redis.aclose()
        await redis.acl_deluser(user)


async def test_the_health_check_reads_this_hosts_beacon(redis: Redis, redis_url: str) -> None:
    """`python -m marketpulse_common.health <service>` (the image's HEALTHCHECK) exits 0
    while an instance on this host beats, and 1 for a service with no beacon here."""
    stop, service = asyncio.Event(), f"svc{uuid.uuid4().hex[:8]}"
    instance = health.instance_id(service)
    beating = asyncio.create_task(health.run_beacon(redis, service, instance, stop))
    env = {**os.environ, "MP_REDIS_URL": redis_url}

    async def check(name: str) -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "marketpulse_common.health", name, env=env
        )
        return await asyncio.wait_for(proc.wait(), 30)

    try:
        await eventually(lambda: redis.exists(health_key(service, instance)), what="a beat")
        assert await check(service) == 0
        assert await check(f"{service}x") == 1
    finally:
        stop.set()
        await beating


async def test_the_health_check_gives_up_on_a_redis_that_never_answers() -> None:
    """A Redis that accepts the connection and never replies: the check fails within its
    deadline, under the image's HEALTHCHECK timeout, instead of hanging on socket timeouts."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepted, never answered

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await health._this_host_is_live(f"redis://127.0.0.1:{port}", "svc", timeout_s=0.5)
        assert time.monotonic() - started < 5
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
