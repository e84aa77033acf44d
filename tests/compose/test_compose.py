"""compose.yaml, the file users run, run for real: images built from the project's Dockerfile,
every healthcheck waited for, a full snapshot and live WebSocket deltas through the published
port, compute and sentiment scaled to two replicas with each candle still computed exactly
once, one container killed and the rest carrying on, and everything torn down afterwards.

Opt-in (`MARKETPULSE_COMPOSE_TEST=1`; `.ci/run` sets it): it installs and starts a Docker
engine when none answers (tests/compose/engine.py) and takes several minutes. No registry
is reachable here, so the images are built from a local Debian base and a wheelhouse built
on the host (deploy/build_wheelhouse.py), through the build arguments compose.yaml passes on
(MP_PYTHON_IMAGE, MP_WHEELHOUSE, MP_REDIS_IMAGE); users keep the registry defaults.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from marketpulse_dev.embedded_redis import free_port
from tests.compose.engine import (
    docker_engine,
    local_base_image,
    python_version,
    run,
    say,
    why_not_installable,
)
from tests.redis_fixtures import docker_engine_answers
from tests.waiting import eventually_sync

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
ENABLE = "MARKETPULSE_COMPOSE_TEST"
SERVICES = ("redis", "ingestor", "compute", "sentiment", "gateway")
BUILD_TIMEOUT_S = 900
HEALTHY_TIMEOUT_S = 240
INDICATORS = "indicators:bitcoin:5m"  # a 5m candle closes every 5 s at 60x
INDICATORS_STREAM = "mp:{bitcoin}:stream:indicators:5m"
APPLIED = ("snapshot", "delta")
CANDLE_EVENTS = "mp:{bitcoin}:stream:candles:5m"


class Compose:
    """`docker compose` (v2) or `docker-compose` (v1) on the repo's compose.yaml, as one
    project of its own."""

    def __init__(self, project: str, env: dict[str, str]) -> None:
        v2 = subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
        self.command = ["docker", "compose"] if v2 else ["docker-compose"]
        self.project = project
        self.env = {**os.environ, **env, "COMPOSE_PROJECT_NAME": project}
        self.port = int(env["MP_GATEWAY_PUBLISH"])

    def __call__(self, *args: str, timeout: float = 300) -> str:
        return run([*self.command, *args], timeout=timeout, env=self.env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def containers(self) -> dict[str, str]:
        """Name → status (`Up 3 minutes (healthy)`, …) of the project's containers."""
        out = run(
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--format",
                "{{.Names}}\t{{.Status}}",
            ],
            timeout=30,
        )
        return dict(line.split("\t", 1) for line in out.splitlines() if line)

    def of(self, service: str) -> dict[str, str]:
        # v1 names containers <project>_<service>_<n>, v2 <project>-<service>-<n>.
        return {
            name: status
            for name, status in self.containers().items()
            if name.replace("-", "_").startswith(f"{self.project}_{service}_")
        }

    def wait_healthy(self, replicas: dict[str, int]) -> None:
        def healthy() -> bool:
            for service, count in replicas.items():
                statuses = [s for s in self.of(service).values() if s.startswith("Up")]
                if sum("(healthy)" in s for s in statuses) < count:
                    return False
            return True

        eventually_sync(
            healthy,
            timeout=HEALTHY_TIMEOUT_S,
            interval=1,
            what=f"healthy containers {replicas}: {self.containers()}",
        )

    def redis(self, *args: str) -> Any:
        out = self("exec", "-T", "redis", "redis-cli", "--json", *args, timeout=30)
        return json.loads(out)

    def logs(self) -> str:
        try:
            return self("logs", "--no-color", "--tail", "40", timeout=60)
        except AssertionError as failed:
            return str(failed)


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:
    if os.environ.get(ENABLE) != "1":
        pytest.skip(f"compose.yaml not run: set {ENABLE}=1 (builds images; may install Docker)")
    if not docker_engine_answers() and (reason := why_not_installable()) is not None:
        pytest.skip(f"compose.yaml not run: no Docker engine answers and none can start ({reason})")
    workdir = tmp_path_factory.mktemp("compose")
    with docker_engine(workdir):
        base = local_base_image()
        say(f"wheelhouse for {base}")
        run(
            [
                sys.executable,
                str(ROOT / "deploy/build_wheelhouse.py"),
                "--python-version",
                python_version(base),
            ],
            timeout=600,
        )
        project = Compose(
            f"mptest{os.getpid()}",
            {
                "MP_PYTHON_IMAGE": base,
                "MP_REDIS_IMAGE": base,
                "MP_WHEELHOUSE": "1",
                "MP_SOURCE": "simulated",
                "MP_SIM_SPEED": "60",
                "MP_ASSETS": "bitcoin,ethereum",
                "MP_TIMEFRAMES": "5m,1h",
                "MP_GATEWAY_PUBLISH": str(free_port()),
            },
        )
        try:
            say(f"building the images with {' '.join(project.command)}")
            project("build", timeout=BUILD_TIMEOUT_S)
            project("up", "-d")
            project.wait_healthy(dict.fromkeys(SERVICES, 1))
            yield project
        finally:
            (workdir / "compose.log").write_text(project.logs())
            project("down", "--volumes", "--remove-orphans", "--timeout", "10")
            left = project.containers()
            assert not left, f"containers left behind: {left}"
            shutil.rmtree(ROOT / ".wheelhouse", ignore_errors=True)


def snapshot(compose: Compose) -> dict[str, Any]:
    """The bitcoin 5m snapshot through the published port; {} while it cannot be had."""
    try:
        response = httpx.get(f"{compose.base_url}/v1/assets/bitcoin/snapshot?tf=5m", timeout=10)
    except httpx.HTTPError:
        return {}
    body: dict[str, Any] = response.json() if response.status_code == 200 else {}
    return body


def latest_indicators(compose: Compose) -> str | None:
    """The id (seq) of the newest bitcoin 5m indicators entry, read in the Redis container."""
    newest = compose.redis("XREVRANGE", INDICATORS_STREAM, "+", "-", "COUNT", "1")
    return str(newest[0][0]) if newest else None


def test_every_service_becomes_healthy_and_ready(compose: Compose) -> None:
    """Each container's own HEALTHCHECK (its beacon in Redis), and the gateway's /readyz."""
    for service in SERVICES:
        statuses = list(compose.of(service).values())
        assert len(statuses) == 1 and "(healthy)" in statuses[0], compose.containers()

    def ready() -> bool:
        try:
            return httpx.get(f"{compose.base_url}/readyz", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(ready, timeout=120, interval=1, what="/readyz through the published port")


def test_a_full_snapshot_through_the_published_port(compose: Compose) -> None:
    def full() -> dict[str, Any] | None:
        data = snapshot(compose).get("data", {})
        parts = ("ticker", "candles", "indicators", "forecast")
        return data if all(data.get(part) for part in parts) else None

    data = eventually_sync(full, timeout=120, interval=1, what="a full bitcoin 5m snapshot")
    assert data["ticker"]["asset"] == "bitcoin"
    assert data["indicators"]["tf"] == "5m"


def test_live_deltas_over_the_websocket(compose: Compose) -> None:
    async def three_chained() -> list[dict[str, Any]]:
        url = f"ws://127.0.0.1:{compose.port}/v1/stream"
        frames: list[dict[str, Any]] = []
        async with websockets.connect(url, open_timeout=10) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "channels": [INDICATORS]}).decode())
            async with asyncio.timeout(60):
                while sum(f["type"] == "delta" for f in frames) < 3:
                    frame = orjson.loads(await ws.recv())
                    if frame.get("channel") == INDICATORS and frame["type"] in APPLIED:
                        frames.append(frame)
        return frames

    frames = asyncio.run(three_chained())
    assert frames[0]["type"] == "snapshot"
    for before, after in itertools.pairwise(frames):
        assert after["prev_seq"] == before["seq"]


def test_two_replicas_of_each_worker_compute_every_candle_once(compose: Compose) -> None:
    compose("up", "-d", "--no-recreate", "--scale", "compute=2", "--scale", "sentiment=2")
    compose.wait_healthy({"compute": 2, "sentiment": 2, "gateway": 1})
    consumers = compose.redis("XINFO", "CONSUMERS", CANDLE_EVENTS, "compute")
    assert len(consumers) == 2, consumers
    start = latest_indicators(compose)

    def windows_after_start() -> list[int] | None:
        entries = compose.redis("XRANGE", INDICATORS_STREAM, f"({start}", "+")
        opens = [_last_open(fields) for _id, fields in entries]
        return opens if len(opens) >= 6 else None

    opens = eventually_sync(
        windows_after_start, timeout=120, interval=1, what="six indicator updates after scaling"
    )
    assert len(opens) == len(set(opens)), f"a candle computed twice: {opens}"
    assert opens == sorted(opens)


def test_the_gateway_image_serves_the_dashboard(compose: Compose) -> None:
    """`/` is the dashboard built on the host (make install), not the redirect to /docs."""
    if not (ROOT / "dashboard/dist/index.html").is_file():
        pytest.skip("dashboard/dist not built here (no npm): the image has no dashboard")
    page = httpx.get(f"{compose.base_url}/", timeout=10)
    assert page.status_code == 200, page.status_code
    assert "<title>marketpulse</title>" in page.text
    script = re.search(r'src="(/ui/[^"]+\.js)"', page.text)
    assert script, page.text[:500]
    asset = httpx.get(f"{compose.base_url}{script.group(1)}", timeout=10)
    assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]


def test_killing_a_container_leaves_the_rest_working(compose: Compose) -> None:
    victim = sorted(compose.of("compute"))[0]
    run(["docker", "kill", victim], timeout=60)
    say(f"killed {victim}")
    before = latest_indicators(compose)

    def two_more() -> bool:
        return len(compose.redis("XRANGE", INDICATORS_STREAM, f"({before}", "+")) >= 2

    eventually_sync(two_more, timeout=120, interval=1, what="indicators after the kill")
    ready = httpx.get(f"{compose.base_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    for service in ("redis", "ingestor", "sentiment", "gateway"):
        assert all("(healthy)" in s for s in compose.of(service).values()), compose.containers()


def _last_open(fields: list[str]) -> int:
    """The candle an indicators entry was computed up to (its window's last_open)."""
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    data: dict[str, Any] = orjson.loads(values["d"])
    return int(data["window"]["last_open"])
