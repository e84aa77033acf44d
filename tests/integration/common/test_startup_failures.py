"""A worker that cannot start says why in one line and exits non-zero, never a traceback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import running_service, service_env

pytestmark = pytest.mark.system

WORKERS = ("ingestor", "compute", "sentiment")
# Nothing listens on port 1: a connection is refused at once.
NO_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process is already listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


async def failed_start(service: str, tmp_path: Path, **values: str) -> tuple[int, list[str]]:
    """Start `service` with `values`; its exit status and the lines it wrote."""
    env = service_env(**{"MP_SOURCE": "simulated", "MP_REDIS_URL": NO_REDIS, **values})
    with running_service(service, env, tmp_path) as child:
        code = await asyncio.to_thread(child.proc.wait, 60)
    return code, [line for line in child.log.read_text().splitlines() if line.strip()]


def assert_one_line_without_traceback(lines: list[str], *named: str) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text
    assert len(lines) == 1, text
    for word in named:
        assert word in lines[0]


@pytest.mark.parametrize("service", WORKERS)
async def test_an_unreachable_redis_is_one_line(service: str, tmp_path: Path) -> None:
    """Redis refusing connections at start: status 1 and one error line naming it."""
    code, lines = await failed_start(service, tmp_path)
    assert code == 1
    assert_one_line_without_traceback(lines, "redis unavailable at start", "127.0.0.1:1")
    assert '"level":"error"' in lines[0]


@pytest.mark.parametrize("service", WORKERS)
@pytest.mark.parametrize(
    ("name", "value"), [("MP_TIMEFRAMES", "7x"), ("MP_REDIS_URL", "http://127.0.0.1:6379/0")]
)
async def test_a_bad_setting_is_one_line_naming_it(
    service: str, name: str, value: str, tmp_path: Path
) -> None:
    """An invalid value: status 2 and one line naming the variable, before any connection."""
    code, lines = await failed_start(service, tmp_path, **{name: value})
    assert code == 2
    assert_one_line_without_traceback(lines, f"invalid setting {name}")


@pytest.mark.parametrize("service", WORKERS)
async def test_a_taken_metrics_port_is_one_line(
    service: str, taken_port: int, tmp_path: Path
) -> None:
    """MP_METRICS_PORT already in use: status 1 and one line naming the address."""
    port = str(taken_port)
    code, lines = await failed_start(
        service, tmp_path, MP_METRICS_HOST="127.0.0.1", MP_METRICS_PORT=port
    )
    assert code == 1
    assert_one_line_without_traceback(lines, f"metrics endpoint 127.0.0.1:{port} unavailable")
