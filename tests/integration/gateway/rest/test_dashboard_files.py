"""The dashboard's files at `/` and `/ui/…`: served unguarded when built, and without a build
the gateway still starts, `/` redirects to the docs and one log line says how to build it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from marketpulse_gateway.dashboard import BUILD_HINT
from tests.integration.gateway.conftest import running_gateway

INDEX = b"<!doctype html><title>marketpulse</title><script src='/ui/app-1a2b.js'></script>"
SCRIPT = b"console.log('dashboard');"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "ui").mkdir(parents=True)
    (built / "index.html").write_bytes(INDEX)
    (built / "ui" / "app-1a2b.js").write_bytes(SCRIPT)
    return built


async def test_built_dashboard_is_served_without_a_key(
    redis_url: str, unique: str, dist: Path
) -> None:
    async with (
        running_gateway(redis_url, unique, api_keys_required=True, dashboard_dir=dist) as gw,
        httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
    ):
        home = await http.get("/")
        assert home.status_code == 200
        assert home.content == INDEX
        assert home.headers["content-type"].startswith("text/html")
        assert home.headers["cache-control"] == "no-cache"
        script = await http.get("/ui/app-1a2b.js")
        assert script.status_code == 200
        assert script.content == SCRIPT
        assert "javascript" in script.headers["content-type"]
        assert "immutable" in script.headers["cache-control"]
        assert (await http.get("/ui/missing.js")).status_code == 404
        assert (await http.get("/ui/%2e%2e/index.html")).status_code == 404
        # The data itself is still guarded.
        assert (await http.get(f"/v1/assets/{unique}/ticker")).status_code == 401


async def test_without_a_build_home_is_the_docs(
    redis_url: str, unique: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        running_gateway(redis_url, unique, dashboard_dir=tmp_path / "not-built") as gw,
        httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
    ):
        home = await http.get("/")
        assert home.status_code == 307
        assert home.headers["location"] == "/docs"
        assert (await http.get("/ui/app.js")).status_code == 404
    logged = capsys.readouterr()
    hints = [line for line in (logged.out + logged.err).splitlines() if "dashboard" in line]
    assert len(hints) == 1, hints
    assert "not built" in hints[0] and BUILD_HINT in hints[0]
