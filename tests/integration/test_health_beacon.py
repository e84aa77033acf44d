"""The liveness beacon: a beat Redis refuses is logged once, and so is the recovery."""

from __future__ import annotations

import asyncio
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
