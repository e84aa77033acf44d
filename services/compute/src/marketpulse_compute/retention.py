"""Keeps the history of the streams compute publishes bounded.

Publishing never trims (see marketpulse_common.publisher), so the producer does it here,
periodically, through `trim_stream`, which never drops entries a consumer group (sentiment)
has not finished. Every replica may trim: trimming is idempotent and cheap, so no lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.logs import get_logger
from marketpulse_common.retention import trim_stream

log = get_logger(__name__)

# Entries kept per indicators (and forecast) stream. The history is what WebSocket clients
# resume from and what a lagging sentiment group catches up on: 1000 entries are ~3.5 days
# of 5m candles in real time (and ~3 minutes even at MP_SIM_SPEED=300), at 1-2 kB each.
INDICATORS_MAXLEN = 1000
FORECAST_MAXLEN = INDICATORS_MAXLEN
# Evaluations are not a WebSocket channel and each one restates the whole report (~6 kB):
# a short history is enough to see how the numbers moved lately.
EVALUATION_MAXLEN = 100
# A stream overshoots the bound by at most one interval of publishing (one entry per closed
# candle): a few entries in real time, which is all the precision retention needs.
TRIM_INTERVAL_S = 60.0


async def trim_streams(redis: Redis, streams: Sequence[str], maxlen: int) -> int:
    """Trim every stream once; an unreachable Redis is logged and retried next round."""
    removed = 0
    for stream in streams:
        try:
            removed += await trim_stream(redis, stream, maxlen)
        except RedisError as e:
            log.warning("stream trim failed; retrying next round", stream=stream, error=str(e))
    return removed


async def run_retention(
    redis: Redis,
    streams: Sequence[str],
    stop: asyncio.Event,
    *,
    maxlen: int = INDICATORS_MAXLEN,
    interval_s: float = TRIM_INTERVAL_S,
) -> None:
    """Trim `streams` every `interval_s` until `stop` is set."""
    while not stop.is_set():
        removed = await trim_streams(redis, streams, maxlen)
        if removed:
            log.debug("streams trimmed", removed=removed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
