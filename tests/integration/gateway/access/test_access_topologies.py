"""API keys and the shared rate limit hold on standalone Redis and on a Redis Cluster.

A key's record and the key index live in different cluster slots, so creating a key must
not be one MULTI over both; the GCRA script touches one key.
"""

from __future__ import annotations

import pytest

from marketpulse_gateway.access.gcra import GcraPolicy
from marketpulse_gateway.access.key_store import ApiKeyStore
from marketpulse_gateway.access.rate_limit import RedisBuckets
from tests.redis_fixtures import RedisTarget

pytestmark = pytest.mark.redis


async def test_keys_are_created_listed_and_revoked(redis_target: RedisTarget, unique: str) -> None:
    redis = redis_target.client()
    try:
        store = ApiKeyStore(redis)
        issued = await store.create(f"dashboard-{unique}")
        assert await store.active_digest(issued.key_id) == issued.digest
        listed = {r.key_id: r for r in await store.records()}
        assert listed[issued.key_id].name == f"dashboard-{unique}"
        assert await store.revoke(issued.key_id) is True
        assert await store.active_digest(issued.key_id) is None
        assert await store.revoke(issued.key_id) is False
    finally:
        await redis.aclose()


async def test_the_shared_bucket_grants_the_burst_then_refuses(
    redis_target: RedisTarget, unique: str
) -> None:
    redis = redis_target.client()
    try:
        await redis.ping()  # a cluster client's first call discovers the nodes: not timed here
        # One request a minute: nothing refills while the test runs, however slow the machine.
        buckets = RedisBuckets(redis, GcraPolicy.per_minute(1, burst=3))
        first = await buckets.take(f"key:{unique}", 10)
        assert 3 <= first.granted <= 4  # the burst (GCRA grants burst + the one due now)
        refused = await buckets.take(f"key:{unique}", 1)
        assert refused.granted == 0 and refused.retry_after_us > 0
    finally:
        await redis.aclose()
