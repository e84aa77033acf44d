"""The news job over real HTTP and Redis: bounded fetches, per-asset headlines, one fetcher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import sentiment_headlines_key
from marketpulse_dev.embedded_redis import free_port
from marketpulse_sentiment.errors import FeedError
from marketpulse_sentiment.feed_client import feed_http_client, fetch_feed
from marketpulse_sentiment.feed_parser import MAX_FEED_BYTES
from marketpulse_sentiment.news import NewsJob
from tests.integration.sentiment.feed_server import Feed, FeedServer, atom, rss
from tests.unit.sentiment.inputs_factory import NOW
from tests.waiting import eventually

pytestmark = pytest.mark.redis


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with feed_http_client() as c:
        yield c


def job(redis: Redis, client: httpx.AsyncClient, feeds: list[str], assets: list[str]) -> NewsJob:
    return NewsJob(
        redis, client, feeds=feeds, assets=assets, interval_s=60, owner="t", clock=lambda: NOW
    )


async def stored(redis: Redis, asset: str) -> list[str] | None:
    raw = await redis.get(sentiment_headlines_key(asset))
    return None if raw is None else orjson.loads(raw)


async def test_headlines_are_stored_per_asset_deduplicated(
    redis: Redis, client: httpx.AsyncClient, unique: str
) -> None:
    """RSS and Atom feeds merge; each asset gets the headlines naming it, once, with a TTL."""
    a, b = f"{unique}a", f"{unique}b"
    feeds = {
        "/rss": rss(f"{a} rallies", f"{b} slips", "Unrelated news"),
        "/atom": atom(f"{a.upper()} RALLIES", f"{a} and {b} both move"),
    }
    with FeedServer(feeds).running() as server:
        result = await job(
            redis, client, [server.url("/rss"), server.url("/atom")], [a, b]
        ).refresh()
    assert result == {
        a: [f"{a} rallies", f"{a} and {b} both move"],
        b: [f"{b} slips", f"{a} and {b} both move"],
    }
    assert await stored(redis, a) == result[a]
    assert 0 < await redis.ttl(sentiment_headlines_key(a)) <= 180


async def test_broken_feeds_are_skipped_and_the_rest_still_count(
    redis: Redis, client: httpx.AsyncClient, unique: str
) -> None:
    """500s, oversized, DTD-bearing, non-XML and unreachable feeds are skipped, not fatal."""
    feeds = {
        "/good": rss(f"{unique} up"),
        "/error": Feed(b"oops", status=500),
        "/huge": Feed(b"<rss>" + b" " * (MAX_FEED_BYTES + 10) + b"</rss>"),
        "/dtd": Feed(
            b'<!DOCTYPE x [<!ENTITY e "bomb">]><rss><item><title>&e;</title></item></rss>'
        ),
        "/html": Feed(b"<html><p>not a feed"),
        # A date Python's parser overflows on: the item stays, dated nowhere.
        "/overflow": Feed(
            b"<rss><channel><item><title>" + unique.encode() + b" dated oddly</title>"
            b"<pubDate>Mon, 01 Jan 2024 99999999999999999999:00:00 GMT</pubDate>"
            b"</item></channel></rss>"
        ),
    }
    dead = f"http://127.0.0.1:{free_port()}/feed"
    with FeedServer(feeds).running() as server:
        urls = [server.url(p) for p in feeds] + [dead]
        result = await job(redis, client, urls, [unique]).refresh()
    assert sorted(result[unique]) == sorted([f"{unique} up", f"{unique} dated oddly"])


async def test_a_round_where_every_feed_fails_keeps_the_stored_headlines(
    redis: Redis, client: httpx.AsyncClient, unique: str
) -> None:
    """An outage of every feed says nothing about the news: the last headlines stay until
    their TTL, rather than being replaced by "no headlines" for every asset."""
    feeds = {"/good": rss(f"{unique} up"), "/error": Feed(b"oops", status=500)}
    with FeedServer(feeds).running() as server:
        await job(redis, client, [server.url("/good")], [unique]).refresh()
        result = await job(redis, client, [server.url("/error")], [unique]).refresh()
    assert result == {}
    assert await stored(redis, unique) == [f"{unique} up"]


async def test_a_trickling_feed_is_cut_off_at_the_deadline(client: httpx.AsyncClient) -> None:
    """A server dripping 16 bytes every 0.2 s cannot hold the fetch past its deadline."""
    with FeedServer({"/drip": Feed(b"<rss>" + b" " * 4000 + b"</rss>", drip_s=0.2)}).running() as s:
        started = time.monotonic()
        with pytest.raises(FeedError, match="not fetched within"):
            await fetch_feed(client, s.url("/drip"), deadline_s=0.5)
    assert time.monotonic() - started < 2


async def test_an_oversized_body_is_refused_declared_or_not(client: httpx.AsyncClient) -> None:
    """A declared length over MAX_FEED_BYTES is refused at once; an undeclared one is cut off."""
    body = b"<rss>" + b" " * (MAX_FEED_BYTES + 100) + b"</rss>"
    feeds = {"/big": Feed(body, declare_length=False), "/declared": Feed(body)}
    with FeedServer(feeds).running() as s:
        with pytest.raises(FeedError, match="larger than"):
            await fetch_feed(client, s.url("/big"))
        with pytest.raises(FeedError, match="declares"):
            await fetch_feed(client, s.url("/declared"))


async def test_only_the_lease_holder_fetches(
    redis: Redis, client: httpx.AsyncClient, unique: str
) -> None:
    """Two replicas run the job; the feed is fetched once per round, by one of them."""
    with FeedServer({"/rss": rss(f"{unique} up")}).running() as server:
        feeds = [server.url("/rss")]
        jobs = [
            NewsJob(
                redis,
                client,
                feeds=feeds,
                assets=[unique],
                interval_s=60,
                owner=f"{unique}-replica{n}",
                clock=lambda: NOW,
            )
            for n in range(2)
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(j.run(stop)) for j in jobs]
        try:
            # Both replicas tried the lease before the first round could finish.
            await eventually(lambda: stored(redis, unique), what="stored headlines")
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert server.hits == {"/rss": 1}
