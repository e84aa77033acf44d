"""Two Redis flags that keep model calls rare, shared by every replica.

- the per-asset gate: taken (SET NX) by whichever replica asks the model about an asset;
  while it exists nobody asks about that asset again. While the call runs its TTL is the
  call's deadline, so a replica killed mid-call frees the asset when the deadline would
  have; an answer then holds it for the minimum interval, and a call that got none gives
  it back at once;
- the cooldown: set after a request finally failed, for as long as the provider asked (or a
  default); while it exists nobody asks the model at all, so an outage costs one slow
  request per cooldown instead of one per event. A cooldown only ever grows: one replica's
  one-minute timeout never cuts short the hour another replica's 429 asked for.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from marketpulse_common.keys import sentiment_cooldown_key, sentiment_gate_key

# Set the cooldown unless the one in place lasts at least as long. ARGV: reason, ms.
_LENGTHEN_LUA = """
if redis.call('PTTL', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# End a turn if the gate is still ours: hold it ARGV[2] ms more, or free it (0).
# ARGV: token, ms.
_END_TURN_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Turn:
    """The right to ask the model about `asset` now; `token` is empty when no gate is kept."""

    asset: str
    token: str


class CallThrottle:
    def __init__(self, redis: Redis, min_interval_s: float) -> None:
        self._redis = redis
        self._interval_ms = int(min_interval_s * 1000)
        self._lengthen = redis.register_script(_LENGTHEN_LUA)
        self._end_turn = redis.register_script(_END_TURN_LUA)

    async def take_turn(self, asset: str, in_flight_s: float) -> Turn | None:
        """The turn to ask about `asset` now, held for `in_flight_s` (the call's deadline);
        None while another caller holds it."""
        if self._interval_ms <= 0:
            return Turn(asset, "")
        token = secrets.token_hex(8)
        ms = max(1, int(in_flight_s * 1000))
        taken = await self._redis.set(sentiment_gate_key(asset), token, nx=True, px=ms)
        return Turn(asset, token) if taken else None

    async def end_turn(self, turn: Turn, *, answered: bool) -> None:
        """The call is over: keep the asset for the minimum interval if the model answered,
        else free it. A gate that expired and was taken by another caller is left alone."""
        if not turn.token:
            return
        ms = self._interval_ms if answered else 0
        await self._end_turn(keys=[sentiment_gate_key(turn.asset)], args=[turn.token, ms])

    async def cooldown_left_s(self) -> float | None:
        """Seconds until the provider may be asked again; None when it may be asked now."""
        ms = int(await self._redis.pttl(sentiment_cooldown_key()))
        return ms / 1000 if ms > 0 else None

    async def cool_down(self, seconds: float, reason: str) -> None:
        """Nobody asks the model for `seconds`, or longer if a longer cooldown is in place."""
        await self._lengthen(
            keys=[sentiment_cooldown_key()], args=[reason, max(1, int(seconds * 1000))]
        )
