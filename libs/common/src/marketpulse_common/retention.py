"""Stream trimming that keeps history bounded without discarding unfinished work.

A plain `XADD … MAXLEN` would happily delete entries a consumer group has not yet read or
acknowledged. Instead the producer trims periodically (`run_retention`): to `maxlen` entries,
but never past the oldest entry any group still needs (its oldest pending entry, or the first
entry after its last-delivered id). Every replica may trim: XTRIM MINID is idempotent and
cheap, so no lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.logs import describe, get_logger

log = get_logger(__name__)

# Trimming lags publishing by at most this long: a stream overshoots its bound by one
# interval of publishing (a few entries in real time, a tenth of a 1000-entry bound at 100
# publishes a minute), which is all the precision retention needs.
TRIM_INTERVAL_S = 60.0


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _next_id(entry_id: str) -> str:
    ms, seq = _id_tuple(entry_id)
    return f"{ms}-{seq + 1}"


def safe_trim_point(count_cutoff: str | None, group_floors: list[str]) -> str | None:
    """The MINID to trim to: the count cutoff, but no later than any group's floor."""
    candidates = [c for c in [count_cutoff, *group_floors] if c is not None]
    if count_cutoff is None or not candidates:
        return None
    return min(candidates, key=_id_tuple)


async def _group_floors(redis: Redis, stream: str) -> list[str]:
    floors: list[str] = []
    for group in await redis.xinfo_groups(stream):
        name = group["name"]
        pending = await redis.xpending(stream, name)
        if pending["pending"]:
            floors.append(pending["min"])
        else:
            floors.append(_next_id(group["last-delivered-id"]))
    return floors


async def trim_stream(redis: Redis, stream: str, maxlen: int) -> int:
    """Trim `stream` to about `maxlen` entries without passing pending work; returns removed."""
    if await redis.xlen(stream) <= maxlen:
        return 0  # the common case: no need to read the tail at all
    tail = cast(
        list[tuple[str, dict[str, str]]], await redis.xrevrange(stream, "+", "-", count=maxlen + 1)
    )
    if len(tail) <= maxlen:
        return 0
    cutoff = tail[-2][0]  # oldest entry to keep by count
    point = safe_trim_point(cutoff, await _group_floors(redis, stream))
    if point is None:
        return 0
    # Exact, not "~": approximate trimming works on whole radix nodes and may remove nothing.
    return int(await redis.xtrim(stream, minid=point, approximate=False))


async def trim_streams(redis: Redis, streams: Sequence[str], maxlen: int) -> int:
    """Trim every stream once; an unreachable Redis is logged and retried next round."""
    removed = 0
    for stream in streams:
        try:
            removed += await trim_stream(redis, stream, maxlen)
        except RedisError as e:
            log.warning("stream trim failed; retrying next round", stream=stream, error=describe(e))
    return removed


async def run_retention(
    redis: Redis,
    streams: Sequence[str],
    stop: asyncio.Event,
    *,
    maxlen: int,
    interval_s: float = TRIM_INTERVAL_S,
) -> None:
    """Trim `streams` to about `maxlen` entries every `interval_s` until `stop` is set."""
    while not stop.is_set():
        removed = await trim_streams(redis, streams, maxlen)
        if removed:
            log.debug("streams trimmed", removed=removed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
