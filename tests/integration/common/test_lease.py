"""Leases: one holder at a time, fencing tokens that grow, expiry hands over."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from marketpulse_common.lease import Lease
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def test_only_one_owner_holds_the_lease(redis: Redis, unique: str) -> None:
    """A second owner cannot acquire while the first holds; the holder re-acquires."""
    a, b = Lease(redis, unique, "a", 10_000), Lease(redis, unique, "b", 10_000)
    token = await a.acquire()
    assert token is not None
    assert await b.acquire() is None
    assert await a.acquire() == token


async def test_release_and_expiry_hand_over_with_a_larger_token(redis: Redis, unique: str) -> None:
    """A new holder gets a larger fencing token, after release or after expiry."""
    a, b = Lease(redis, unique, "a", 100), Lease(redis, unique, "b", 100)
    first = await a.acquire()
    assert first is not None
    second = await eventually(b.acquire, timeout=5, what="lease expiry")
    assert second > first
    assert await b.release()
    assert not await b.release()
    third = await a.acquire()
    assert third is not None and third > second
