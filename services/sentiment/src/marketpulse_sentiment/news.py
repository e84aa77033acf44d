"""The scheduled news job: fetch MP_NEWS_FEEDS, keep each asset's recent headlines in Redis.

Fetching is an upstream call, so exactly one replica does it (a Redis lease, renewed each
round by its holder). The result is stored per asset (`sentiment_headlines_key`) with a TTL
of a few rounds: if the job stops, stale news expires instead of being read for ever. A
failing feed is logged and skipped; the others still count. A round in which every feed
failed stores nothing: an outage is not news, so the last headlines stay until they expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.keys import sentiment_headlines_key
from marketpulse_common.lease import Lease
from marketpulse_common.logs import describe, get_logger
from marketpulse_sentiment.errors import FeedError
from marketpulse_sentiment.feed_client import FETCH_DEADLINE_S, fetch_feed
from marketpulse_sentiment.feed_parser import parse_feed
from marketpulse_sentiment.headlines import Headline, deduplicate, select_for_asset

log = get_logger(__name__)

LEASE_JOB = "sentiment-news"
# Headlines survive three missed rounds, then expire.
TTL_ROUNDS = 3


def _utc_now() -> datetime:
    return datetime.now(UTC)


class NewsJob:
    def __init__(
        self,
        redis: Redis,
        client: httpx.AsyncClient,
        *,
        feeds: Sequence[str],
        assets: Sequence[str],
        interval_s: float,
        owner: str,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._redis = redis
        self._client = client
        self._feeds = list(feeds)
        self._assets = list(assets)
        self._interval_s = interval_s
        self._clock = clock
        # Held across rounds by renewing it; lost two rounds after its holder stops (and never
        # while a round's fetches may still be running).
        ttl_s = 2 * max(interval_s, FETCH_DEADLINE_S)
        self._lease = Lease(redis, LEASE_JOB, owner, int(ttl_s * 1000))

    async def _headlines_of(self, url: str) -> list[Headline] | None:
        """The feed's headlines; None when it could not be read."""
        try:
            return parse_feed(await fetch_feed(self._client, url))
        except FeedError as e:
            # The URL may carry a token in its query; the host says enough.
            log.warning("news feed skipped", host=httpx.URL(url).host, error=describe(e))
            return None
        except Exception:  # a feed the parser chokes on must not stop the rest
            log.exception("news feed unreadable; skipped", host=httpx.URL(url).host)
            return None

    async def refresh(self) -> dict[str, list[str]]:
        """Fetch every feed once and store each asset's headlines; returns what was stored
        (nothing when no feed could be read)."""
        fetched = await asyncio.gather(*(self._headlines_of(url) for url in self._feeds))
        per_feed = [feed for feed in fetched if feed is not None]
        if not per_feed:
            log.warning("no news feed answered; stored headlines kept", feeds=len(self._feeds))
            return {}
        everything = deduplicate(h for feed in per_feed for h in feed)
        now = self._clock()
        selected = {a: select_for_asset(everything, a, now=now) for a in self._assets}
        ttl_s = max(1, int(self._interval_s * TTL_ROUNDS))
        async with self._redis.pipeline(transaction=False) as pipe:
            for asset, titles in selected.items():
                pipe.set(sentiment_headlines_key(asset), orjson.dumps(titles).decode(), ex=ttl_s)
            await pipe.execute()
        log.info(
            "news refreshed",
            feeds=len(self._feeds),
            headlines=len(everything),
            matched={a: len(t) for a, t in selected.items()},
        )
        return selected

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every interval while this replica holds the lease, until `stop`."""
        while not stop.is_set():
            try:
                if await self._lease.acquire() is not None:
                    await self.refresh()
            except RedisError as e:
                log.warning("news refresh failed; retrying next round", error=describe(e))
            except Exception:  # headlines are optional: never stop the service
                log.exception("news refresh failed; retrying next round")
            try:
                await asyncio.wait_for(stop.wait(), self._interval_s)
            except TimeoutError:
                continue
        await self._release()

    async def _release(self) -> None:
        try:
            await self._lease.release()
        except RedisError as e:
            log.warning("news lease not released; it expires by itself", error=describe(e))
