"""The handshake: API keys (header or `?api_key=`), the Origin allowlist, the rate limit."""

from __future__ import annotations

import logging

import orjson
import pytest
from redis.asyncio import Redis
from websockets.exceptions import InvalidStatus

from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_gateway.access.key_store import ApiKeyStore
from tests.integration.gateway.ws_support import next_frame, send_op, serve_stream, ws_connect

pytestmark = pytest.mark.redis

both = pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])
APP = "https://app.example.com"


async def refused(url: str, **kwargs: object) -> tuple[int, dict[str, object], str]:
    """Try to connect; (status, problem body, Retry-After) of the refusal."""
    with pytest.raises(InvalidStatus) as caught:
        async with ws_connect(url, **kwargs):
            pass
    response = caught.value.response
    problem = orjson.loads(response.body) if response.body else {}
    return response.status_code, problem, response.headers.get("retry-after", "")


async def accepted(url: str, **kwargs: object) -> None:
    """Connect and get a pong: the handshake was admitted."""
    async with ws_connect(url, **kwargs) as ws:
        await send_op(ws, {"op": "ping"})
        assert await next_frame(ws) == {"type": "pong"}


@both
async def test_keys_required(redis_url: str, unique: str, redis: Redis, direct: bool) -> None:
    """With MP_API_KEYS_REQUIRED a missing, invalid or revoked key is refused with 401; a valid
    key in a header or in `?api_key=` is admitted."""
    store = ApiKeyStore(redis)
    good, revoked = await store.create(f"{unique}-good"), await store.create(f"{unique}-old")
    await store.revoke(revoked.key_id)
    async with serve_stream(redis_url, unique, direct=direct, api_keys_required=True) as gw:
        status, problem, _ = await refused(gw.ws_url)
        assert (status, problem["type"]) == (401, "urn:marketpulse:problem:api-key-required")
        assert (await refused(gw.ws_url + "?api_key=mp_nope"))[0] == 401
        assert (await refused(gw.ws_url, additional_headers={"X-API-Key": revoked.key}))[0] == 401
        await accepted(gw.ws_url, additional_headers={"Authorization": f"Bearer {good.key}"})
        await accepted(f"{gw.ws_url}?api_key={good.key}")


async def test_keys_optional_by_default(redis_url: str, unique: str) -> None:
    """Without MP_API_KEYS_REQUIRED a client without a key is admitted."""
    async with serve_stream(redis_url, unique) as gw:
        await accepted(gw.ws_url)


@both
async def test_origin_allowlist(redis_url: str, unique: str, direct: bool) -> None:
    """With MP_CORS_ORIGINS set, a page from another origin is refused with 403; an allowed
    origin and a client sending no Origin (not a browser) are admitted."""
    async with serve_stream(redis_url, unique, direct=direct, cors_origins=[APP]) as gw:
        status, problem, _ = await refused(gw.ws_url, origin="https://evil.example.com")
        assert (status, problem["type"]) == (403, "urn:marketpulse:problem:origin-not-allowed")
        await accepted(gw.ws_url, origin=APP)
        await accepted(gw.ws_url)


async def test_any_origin_without_an_allowlist(redis_url: str, unique: str) -> None:
    """Without MP_CORS_ORIGINS any origin may connect (keys, not cookies, carry authority)."""
    async with serve_stream(redis_url, unique) as gw:
        await accepted(gw.ws_url, origin="https://anywhere.example.com")


async def test_handshakes_are_rate_limited(
    redis_server: RedisServer, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Opening connections counts against the client's request rate: 429 with Retry-After,
    and a refusal is no error in the server's log."""
    # A private Redis: the limit is per client address, and every test connects from loopback.
    async with serve_stream(
        redis_server.url, unique, rate_limit_per_minute=1, rate_limit_burst=1
    ) as gw:
        await accepted(gw.ws_url)
        status, problem, retry_after = await refused(gw.ws_url)
        assert (status, problem["type"]) == (429, "urn:marketpulse:problem:rate-limited")
        assert int(retry_after) > 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
