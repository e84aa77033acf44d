"""API keys in Redis (digests only), and the gateway's cached check of a presented key.

Each key is a hash `mp:apikey:<id>` (digest, name, created_at, revoked_at) plus its id in the
set `mp:apikeys`. Revoking keeps the record (with `revoked_at`) so `keys list` still shows
what existed; a revoked key never verifies again.

A gateway remembers what it looked up for `MP_API_KEY_CACHE_S`, so a busy client costs one
Redis lookup per few seconds, and a revoked key stops working within that time on every
replica. While Redis is unreachable a key looked up before keeps working on its last-known
record; a key never seen before cannot be checked, which is `StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.keys import api_key_index_key, api_key_key
from marketpulse_gateway.access.api_keys import IssuedKey, issue_key, key_id_of, key_matches
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.store_health import StoreHealth

# A lookup is one HMGET; past this Redis is sick and the request is better answered 503.
LOOKUP_TIMEOUT_S = 0.5
# Ids remembered per replica (each a few dozen bytes); past this the cache starts over.
MAX_CACHED_IDS = 100_000


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    name: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiKeyStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def create(self, name: str) -> IssuedKey:
        """A new key, stored as its digest; the caller shows `key` once and forgets it."""
        while True:
            issued = issue_key()
            created = await self._redis.hsetnx(api_key_key(issued.key_id), "digest", issued.digest)
            if created:  # else: an id collision (36^8 ids), draw again
                break
        # Not one MULTI: the record and the index live in different Redis Cluster slots. A
        # crash between them leaves a record nobody was ever shown the key of: harmless.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(api_key_key(issued.key_id), mapping={"name": name, "created_at": _now()})
            pipe.sadd(api_key_index_key(), issued.key_id)
            await pipe.execute()
        return issued

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such active key."""
        key = api_key_key(key_id)
        if await self._redis.hget(key, "revoked_at") or not await self._redis.exists(key):
            return False
        await self._redis.hset(key, "revoked_at", _now())
        return True

    async def records(self) -> list[KeyRecord]:
        ids = sorted(cast(set[str], await self._redis.smembers(api_key_index_key())))
        async with self._redis.pipeline(transaction=False) as pipe:
            for key_id in ids:
                pipe.hgetall(api_key_key(key_id))
            replies = await pipe.execute()
        return [
            KeyRecord(key_id, f.get("name", ""), f.get("created_at", ""), f.get("revoked_at"))
            for key_id, f in zip(ids, cast(list[dict[str, str]], replies), strict=True)
            if f
        ]

    async def active_digest(self, key_id: str) -> str | None:
        """The stored digest of an active key; None when unknown or revoked."""
        digest, revoked_at = await self._redis.hmget(api_key_key(key_id), ["digest", "revoked_at"])
        return None if revoked_at else cast(str | None, digest)


@dataclass(frozen=True, slots=True)
class _Cached:
    digest: str | None  # None: no active key has this id
    fetched_at: float


class KeyVerifier:
    def __init__(
        self,
        store: ApiKeyStore,
        health: StoreHealth,
        *,
        cache_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._health = health
        self._cache_s = cache_s
        self._clock = clock
        self._cache: dict[str, _Cached] = {}

    def cached(self, presented: str) -> str | Literal[False] | None:
        """From memory alone: the key id (valid), False (invalid) or None (must ask Redis)."""
        key_id = key_id_of(presented)
        if key_id is None:
            return False
        cached = self._cache.get(key_id)
        if cached is None:
            return None
        if self._clock() - cached.fetched_at >= self._cache_s and self._health.reachable:
            return None
        return _verdict(presented, key_id, cached.digest)

    async def verify(self, presented: str) -> str | None:
        """The id of the valid key `presented`, else None; StoreUnavailable if it cannot tell."""
        known = self.cached(presented)
        if known is not None:
            return known or None
        key_id = key_id_of(presented)
        assert key_id is not None  # cached() answers False for malformed keys
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                digest = await self._store.active_digest(key_id)
        except (RedisError, OSError, TimeoutError) as e:
            if self._health.report_error(e, "API key lookup"):
                raise StoreUnavailable("Redis refused the API key lookup; retry shortly") from e
            raise StoreUnavailable("cannot check the API key while Redis is unreachable") from e
        if len(self._cache) >= MAX_CACHED_IDS:
            self._cache.clear()
        self._cache[key_id] = _Cached(digest, self._clock())
        return _verdict(presented, key_id, digest) or None


def _verdict(presented: str, key_id: str, digest: str | None) -> str | Literal[False]:
    return key_id if digest is not None and key_matches(presented, digest) else False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
