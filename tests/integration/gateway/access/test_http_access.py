"""Access over real HTTP: API keys (and their CLI), shared rate limits, CORS and body limits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import api_key_key
from marketpulse_common.publisher import Publisher
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_gateway.access.key_store import ApiKeyStore
from tests.integration.gateway.conftest import publish_ticker, running_gateway

pytestmark = pytest.mark.redis

PROBLEM = "application/problem+json"
ORIGIN = "https://app.example.com"


def run_cli(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MP_REDIS_URL": redis_url, "MP_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "marketpulse_gateway", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


class TestApiKeys:
    async def test_required_keys(
        self, redis_url: str, redis: Redis, unique: str, publisher: Publisher
    ) -> None:
        """With keys required: none → 401; a valid key via either header → 200; revoked → 401."""
        store = ApiKeyStore(redis)
        issued = await store.create("test")
        await publish_ticker(publisher, unique, 1.0)
        async with (
            running_gateway(redis_url, unique, api_keys_required=True, api_key_cache_s=0) as gw,
            httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
        ):
            url = f"/v1/assets/{unique}/ticker"
            missing = await http.get(url)
            assert missing.status_code == 401
            assert missing.headers["content-type"] == PROBLEM
            assert missing.headers["www-authenticate"].startswith("Bearer")
            assert missing.json()["type"] == "urn:marketpulse:problem:api-key-required"
            bearer = {"Authorization": f"Bearer {issued.key}"}
            for _ in range(3):  # the first through FastAPI, then the hot path: both guarded
                assert (await http.get(url, headers=bearer)).status_code == 200
            assert (await http.get(url, headers={"X-API-Key": issued.key})).status_code == 200
            # REST ignores keys in the URL, so they never land in logs and history.
            assert (await http.get(url, params={"api_key": issued.key})).status_code == 401
            wrong = issued.key[:-4] + "AAAA"
            bad = await http.get(url, headers={"Authorization": f"Bearer {wrong}"})
            assert bad.json()["type"] == "urn:marketpulse:problem:invalid-api-key"
            assert await store.revoke(issued.key_id)
            revoked = await http.get(url, headers=bearer)
            assert revoked.status_code == 401
            # Probes and scrapers are never asked for a key.
            for path in ("/healthz", "/metrics", "/openapi.json", "/asyncapi.json"):
                assert (await http.get(path)).status_code == 200
            # The stream's AsyncAPI document is linked from the API docs.
            openapi = (await http.get("/openapi.json")).json()
            assert "(/asyncapi.json)" in openapi["info"]["description"]
            assert (await http.get("/asyncapi.json")).json()["asyncapi"].startswith("3.")
            # `/` (the dashboard, or the docs without one): tests/…/rest/test_dashboard_files.py

    async def test_optional_keys_are_still_checked(
        self, redis_url: str, unique: str, publisher: Publisher
    ) -> None:
        """Without MP_API_KEYS_REQUIRED, no key is fine but a wrong one is still 401."""
        await publish_ticker(publisher, unique, 1.0)
        async with (
            running_gateway(redis_url, unique) as gw,
            httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
        ):
            url = f"/v1/assets/{unique}/ticker"
            assert (await http.get(url)).status_code == 200
            unknown = "mp_zzzzzzzz_" + "a" * 43
            assert (await http.get(url, headers={"X-API-Key": unknown})).status_code == 401

    async def test_only_digests_are_stored(self, redis: Redis) -> None:
        """Redis holds the key's SHA-256 digest under its id, never the key."""
        issued = await ApiKeyStore(redis).create("audit")
        stored = await redis.hgetall(api_key_key(issued.key_id))
        assert stored["digest"] == issued.digest
        assert issued.key not in str(stored)

    def test_cli_create_list_revoke(self, redis_url: str) -> None:
        """`keys create` prints the key once; `list` shows it without secrets; `revoke` ends it."""
        created = run_cli(redis_url, "create", "--name", "dashboard")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        key_id = key.split("_")[1]
        assert key.startswith("mp_") and "cannot be shown again" in created.stderr
        listed = run_cli(redis_url, "list")
        row = next(line for line in listed.stdout.splitlines() if line.startswith(key_id))
        assert "active" in row and "dashboard" in row
        assert key.split("_", 2)[2] not in listed.stdout
        assert run_cli(redis_url, "revoke", key_id).returncode == 0
        assert run_cli(redis_url, "revoke", key_id).returncode == 1
        assert "revoked" in next(
            line
            for line in run_cli(redis_url, "list").stdout.splitlines()
            if line.startswith(key_id)
        )
        assert run_cli(redis_url, "revoke", "not-an-id").returncode == 1

    def test_cli_revokes_a_key_given_whole_and_never_echoes_it(self, redis_url: str) -> None:
        """An operator pastes the key they hold instead of its id: it is revoked by the id in
        it, and neither that nor a mistyped key is ever printed (stderr goes to job logs)."""
        key = run_cli(redis_url, "create", "--name", "ops").stdout.strip()
        secret = key.split("_", 2)[2]
        revoked = run_cli(redis_url, "revoke", key)
        assert revoked.returncode == 0 and secret not in revoked.stdout + revoked.stderr
        assert f"revoked key {key.split('_')[1]}" in revoked.stderr
        mistyped = run_cli(redis_url, "revoke", key[:-1])
        assert mistyped.returncode == 1 and secret[:-1] not in mistyped.stderr


class TestRateLimit:
    async def test_limit_is_shared_by_replicas(
        self, redis_server: RedisServer, unique: str
    ) -> None:
        """Two gateways on one Redis share a client's budget: 429 + Retry-After past it."""
        limits = {"rate_limit_per_minute": 6, "rate_limit_burst": 5}
        redis = create_redis(redis_server.url, client_name="pytest")
        try:
            await publish_ticker(Publisher(redis), unique, 1.0)
            async with (
                running_gateway(redis_server.url, unique, **limits) as one,
                running_gateway(redis_server.url, unique, **limits) as two,
                httpx.AsyncClient(timeout=10) as http,
            ):
                statuses: list[int] = []
                refused: list[httpx.Response] = []
                for _ in range(6):
                    for gw in (one, two):
                        response = await http.get(f"{gw.base_url}/v1/assets/{unique}/ticker")
                        statuses.append(response.status_code)
                        if response.status_code == 429:
                            refused.append(response)
        finally:
            await redis.aclose()
        # Each replica alone would admit 5 (10 in all); together they admit at most 5.
        assert 1 <= statuses.count(200) <= 5
        assert statuses.count(429) == 12 - statuses.count(200)
        first = refused[0]
        assert first.headers["content-type"] == PROBLEM
        assert first.json()["type"] == "urn:marketpulse:problem:rate-limited"
        assert 1 <= int(first.headers["retry-after"]) <= 10

    async def test_limit_recovers(self, redis_server: RedisServer, unique: str) -> None:
        """After waiting Retry-After, a limited client is admitted again."""
        limits = {"rate_limit_per_minute": 120, "rate_limit_burst": 2}
        async with (
            running_gateway(redis_server.url, unique, **limits) as gw,
            httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
        ):
            statuses = [(await http.get("/v1/assets")).status_code for _ in range(3)]
            assert statuses[-1] == 429
            retry_after = int((await http.get("/v1/assets")).headers["retry-after"])
            await asyncio.sleep(retry_after)
            assert (await http.get("/v1/assets")).status_code == 200

    async def test_a_full_redis_refusing_the_limit_is_no_outage(
        self, redis_server: RedisServer, unique: str
    ) -> None:
        """Redis at maxmemory (noeviction) refuses the limiter's writes but answers every
        read and PING: requests are decided locally and served fresh, the gateway does not
        call Redis unreachable (which flapped at every request and PING, marking data stale),
        and the refusals are logged once with their cause."""
        limits = {"rate_limit_per_minute": 600, "rate_limit_burst": 50}
        redis = create_redis(redis_server.url, client_name="pytest")
        try:
            await publish_ticker(Publisher(redis), unique, 1.0)
            await redis.config_set("maxmemory", "1")  # every write is refused from now on
            with capture_logs() as logs:
                async with (
                    running_gateway(redis_server.url, unique, **limits) as gw,
                    httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
                ):
                    for _ in range(5):
                        response = await http.get(f"/v1/assets/{unique}/ticker")
                        assert response.status_code == 200
                        assert response.json()["meta"]["stale"] is False
                        metrics = (await http.get("/metrics")).text
                        assert "marketpulse_gateway_redis_up 1.0" in metrics
        finally:
            await redis.config_set("maxmemory", "0")
            await redis.aclose()
        events = [e["event"] for e in logs if e.get("log_level") in ("warning", "error")]
        assert "Redis unreachable; serving last-known-good data" not in events
        (refused,) = [e for e in logs if e["event"].startswith("Redis refused a command")]
        assert refused["command"] == "rate limit" and refused["error"].startswith("OutOfMemory")


class TestCors:
    async def test_preflight_and_responses(
        self, redis_url: str, unique: str, publisher: Publisher
    ) -> None:
        """Allowed origins pass preflight and get CORS headers (hot path, routes, errors)."""
        await publish_ticker(publisher, unique, 1.0)
        async with (
            running_gateway(redis_url, unique, cors_origins=[ORIGIN]) as gw,
            httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
        ):
            url = f"/v1/assets/{unique}/ticker"
            preflight = await http.options(
                url,
                headers={
                    "Origin": ORIGIN,
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization",
                },
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == ORIGIN
            assert "authorization" in preflight.headers["access-control-allow-headers"]
            # Only what the routes answer is offered: they answer HEAD with 405.
            assert preflight.headers["access-control-allow-methods"] == "GET, OPTIONS"
            assert (await http.head(url)).status_code == 405
            head = await http.options(
                url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "HEAD"}
            )
            assert head.status_code == 403
            refused = await http.options(
                url,
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            )
            assert refused.status_code == 403
            assert "access-control-allow-origin" not in refused.headers
            for path in (url, url, "/v1/assets", "/v1/assets/dogecoin/ticker"):
                response = await http.get(path, headers={"Origin": ORIGIN})
                assert response.headers["access-control-allow-origin"] == ORIGIN, path
                assert "ETag" in response.headers["access-control-expose-headers"]
                other = await http.get(path, headers={"Origin": "https://evil.example"})
                assert "access-control-allow-origin" not in other.headers
                assert other.headers["vary"] == "Origin"


async def test_large_body_is_413(redis_url: str, unique: str) -> None:
    """Bodies over MP_MAX_BODY_BYTES, or of unannounced length, are refused with 413."""
    async with (
        running_gateway(redis_url, unique, max_body_bytes=1024) as gw,
        httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
    ):
        response = await http.request("GET", f"/v1/assets/{unique}/ticker", content=b"x" * 2048)
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM
        assert "1024" in response.json()["detail"]
        small = await http.request("GET", "/healthz", content=b"x" * 100)
        assert small.status_code == 200

        async def stream() -> AsyncIterator[bytes]:
            yield b"x"  # no Content-Length: sent chunked

        chunked = await http.request("GET", f"/v1/assets/{unique}/ticker", content=stream())
        assert chunked.status_code == 413
