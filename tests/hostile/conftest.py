"""The product under hostile input: one stack per module, as processes, holding real data.

`hostile_stack` is tests/system/stack.py's stack (private redis-server, simulated ingestor,
compute, a gateway) once every REST resource of its asset has a value, sentiment included
(one value poured in, as no sentiment service runs). `extra_gateway` starts one more
gateway process on the same Redis with other settings (keys required, a rate limit).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from marketpulse_dev.embedded_redis import free_port
from tests.processes import ServiceProcess, wait_healthy
from tests.system.stack import ASSET, Stack, running_stack

# Every channel the REST resources of ASSET read, on the timeframe requests default to (1h)
# and the fast one (5m): with these cached, fuzzed requests reach the data, not 503s.
CHANNELS = [f"ticker:{ASSET}"] + [
    f"{kind}:{ASSET}:{tf}"
    for kind in ("candles", "indicators", "forecast", "evaluation")
    for tf in ("5m", "1h")
]


@pytest.fixture(scope="module")
def hostile_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("hostile")) as stack:
        for channel in CHANNELS:
            stack.wait_for_value(channel, timeout=120)
        stack.pour(f"sentiment:{ASSET}", 1)
        yield stack


@dataclass(frozen=True)
class ExtraGateway:
    base_url: str
    process: ServiceProcess


@contextmanager
def extra_gateway(stack: Stack, **env: str) -> Iterator[ExtraGateway]:
    """Another gateway process on the stack's Redis, with `env` on top of the stack's."""
    port = free_port()
    process = ServiceProcess(
        "gateway", {**stack.env(), "MP_GATEWAY_PORT": str(port), **env}, stack.workdir
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(
            base_url,
            process.proc,
            lambda: process.log.read_text()[-2000:],
            what="extra gateway /healthz",
        )
        yield ExtraGateway(base_url, process)
    finally:
        process.terminate(timeout=10)


def create_api_key(stack: Stack, name: str) -> str:
    """A new API key, made as an operator makes one (`python -m marketpulse_gateway keys`)."""
    done = subprocess.run(
        [sys.executable, "-m", "marketpulse_gateway", "keys", "create", "--name", name],
        env=stack.env(),
        cwd=Path(stack.workdir),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()
