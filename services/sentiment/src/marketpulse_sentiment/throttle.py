"""Two Redis flags that keep model calls rare, shared by every replica.

- the per-asset gate: set (NX, with the minimum interval as its TTL) by whichever replica
  asks the model about an asset; while it exists nobody asks about that asset again;
- the cooldown: set after a request finally failed, for as long as the provider asked (or a
  default); while it exists nobody asks the model at all, so an outage costs one slow
  request per cooldown instead of one per event. A cooldown only ever grows: one replica's
  one-minute timeout never cuts short the hour another replica's 429 asked for.
"""

from __future__ import annotations

from redis.asyncio import Redis

from marketpulse_common.keys import sentiment_cooldown_key, sentiment_gate_key

# Set the cooldown unless the one in place lasts at least as long. ARGV: reason, ms.
_LENGTHEN_LUA = """
if redis.call('PTTL', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class CallThrottle:
    def __init__(self, redis: Redis, min_interval_s: float) -> None:
        self._redis = redis
        self._interval_ms = int(min_interval_s * 1000)
        self._lengthen = redis.register_script(_LENGTHEN_LUA)

    async def take_turn(self, asset: str) -> bool:
        """True if this caller may ask about `asset` now (and nobody else may for a while)."""
        if self._interval_ms <= 0:
            return True
        return bool(
            await self._redis.set(sentiment_gate_key(asset), "1", nx=True, px=self._interval_ms)
        )

    async def cooldown_left_s(self) -> float | None:
        """Seconds until the provider may be asked again; None when it may be asked now."""
        ms = int(await self._redis.pttl(sentiment_cooldown_key()))
        return ms / 1000 if ms > 0 else None

    async def cool_down(self, seconds: float, reason: str) -> None:
        """Nobody asks the model for `seconds`, or longer if a longer cooldown is in place."""
        await self._lengthen(
            keys=[sentiment_cooldown_key()], args=[reason, max(1, int(seconds * 1000))]
        )
