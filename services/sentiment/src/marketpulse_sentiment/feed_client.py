"""Fetch one news feed over HTTP, bounded in size and time.

A feed server is a stranger: it may be slow, huge, or trickle one byte every few seconds
(which no per-read timeout catches). So every fetch has per-operation timeouts, an overall
deadline, and reads at most MAX_FEED_BYTES before giving up.
"""

from __future__ import annotations

import asyncio

import httpx

from marketpulse_sentiment.errors import FeedError
from marketpulse_sentiment.feed_parser import MAX_FEED_BYTES

FETCH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# The whole fetch, however the server drips its bytes.
FETCH_DEADLINE_S = 20.0
MAX_REDIRECTS = 3
_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9"


def feed_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=FETCH_TIMEOUT,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"accept": _ACCEPT, "user-agent": "marketpulse-sentiment/0.1"},
    )


async def _read_bounded(client: httpx.AsyncClient, url: str) -> bytes:
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FEED_BYTES:
            raise FeedError(f"feed declares {declared} bytes, over {MAX_FEED_BYTES}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_FEED_BYTES:
                raise FeedError(f"feed larger than {MAX_FEED_BYTES} bytes")
        return bytes(body)


async def fetch_feed(
    client: httpx.AsyncClient, url: str, *, deadline_s: float = FETCH_DEADLINE_S
) -> bytes:
    """The feed's bytes; FeedError when unreachable, failing, too slow or too large."""
    try:
        async with asyncio.timeout(deadline_s):
            return await _read_bounded(client, url)
    except TimeoutError as e:
        raise FeedError(f"feed not fetched within {deadline_s} s") from e
    except httpx.HTTPStatusError as e:
        raise FeedError(f"feed answered HTTP {e.response.status_code}") from e
    except httpx.HTTPError as e:
        raise FeedError(f"feed unreachable: {type(e).__name__}") from e
