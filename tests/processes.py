"""Start a marketpulse service as an OS process, as an operator would (`python -m …`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from tests.waiting import eventually_sync


def service_env(**values: str) -> dict[str, str]:
    """The runner's environment without MP_ settings or a developer's Anthropic key, JSON
    logs, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MP_", "ANTHROPIC_"))}
    return {**env, "MP_LOG_FORMAT": "json", **values}


class ServiceProcess:
    """One service child; its output goes to a log file that `events()` parses."""

    def __init__(self, service: str, env: dict[str, str], workdir: Path) -> None:
        self.service = service
        self._stop_sent = False
        self.log = workdir / f"{service}-{len(list(workdir.glob(f'{service}-*.log')))}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"marketpulse_{service}"],
                env=env,
                cwd=workdir,  # no stray .env from the developer's checkout
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def events(self) -> list[dict[str, object]]:
        lines = self.log.read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.startswith(b"{")]

    def request_stop(self) -> None:
        """SIGTERM, once: a second one could land after the service removed its handler."""
        if self.proc.poll() is None and not self._stop_sent:
            self.proc.send_signal(signal.SIGTERM)
            self._stop_sent = True

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait for the drain; past `timeout` SIGKILL (and a negative status)."""
        self.request_stop()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, nothing drained."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@contextmanager
def running_service(service: str, env: dict[str, str], workdir: Path) -> Iterator[ServiceProcess]:
    """A service process that is killed on the way out if the test left it running."""
    child = ServiceProcess(service, env, workdir)
    try:
        yield child
    finally:
        child.kill()


def wait_healthy(
    base_url: str,
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    exited: Callable[[], str],
    *,
    timeout: float = 30,
    what: str = "gateway /healthz",
) -> None:
    """Until the gateway at `base_url` answers /healthz 200; fails at once, with `exited()`
    (its log or output), if its process `proc` ends first."""

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited: {exited()}")
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(healthy, timeout=timeout, what=what)
