"""A Redis lease for work that must happen on exactly one replica (a scheduled upstream call).

Acquiring returns a fencing token that grows with every new holder, so a holder that was
paused past its expiry can be told apart from the current one by whoever stores its result.
"""

from __future__ import annotations

from redis.asyncio import Redis

from marketpulse_common.keys import fence_key, lease_key

# Acquire, or extend when we already hold it; the token only grows on a change of holder.
_ACQUIRE_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return false
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, redis: Redis, job: str, owner: str, ttl_ms: int) -> None:
        if ttl_ms <= 0:
            raise ValueError("ttl_ms must be positive")
        self.job = job
        self.owner = owner
        self.ttl_ms = ttl_ms
        self._keys = [lease_key(job), fence_key(job)]
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    async def acquire(self) -> int | None:
        """The fencing token if this owner now holds the lease, else None."""
        token = await self._acquire(keys=self._keys, args=[self.owner, self.ttl_ms])
        return int(token) if token else None

    async def release(self) -> bool:
        return bool(await self._release(keys=self._keys[:1], args=[self.owner]))
