"""The TypeScript client package (clients/js) as the Python tests use it: installed from its
lockfile and built, each only when out of date, under a lock so parallel sessions agree.

`make install` runs the same `npm ci` and touches the same stamp, so after it the tests
install nothing. Without node/npm on the machine the tests that need them skip, with the
one line `SKIP_REASON`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients/js"
INSTALL_STAMP = PACKAGE / "node_modules/.install-stamp"
BUILD_STAMP = PACKAGE / "dist/.build-stamp"
SKIP_REASON = "node and npm are not on PATH: the TypeScript client (clients/js) is not tested"
# npm ci from the registry on a slow link; tsc on a busy 2-core machine.
INSTALL_TIMEOUT_S = 600
BUILD_TIMEOUT_S = 300


def tools() -> tuple[str, str] | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    return (node, npm) if node and npm else None


def require_tools() -> tuple[str, str]:
    found = tools()
    if found is None:
        pytest.skip(SKIP_REASON)
    return found


def ensure_ready() -> tuple[str, str]:
    """node_modules from the lockfile and dist/ from the sources, each only when stale."""
    node, npm = require_tools()
    with _locked():
        if _stale(INSTALL_STAMP, [PACKAGE / "package-lock.json", PACKAGE / "package.json"]):
            # `npm ci` also builds dist/ (the package's `prepare` script).
            run([npm, "ci", "--no-audit", "--no-fund"], timeout=INSTALL_TIMEOUT_S)
            INSTALL_STAMP.touch()
            BUILD_STAMP.write_text(_sources_digest())
        digest = _sources_digest()
        if not BUILD_STAMP.exists() or BUILD_STAMP.read_text() != digest:
            run([npm, "run", "--silent", "build"], timeout=BUILD_TIMEOUT_S)
            BUILD_STAMP.write_text(digest)
    return node, npm


def run(args: list[str], *, timeout: float, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command in the package; on failure the assertion shows its whole output."""
    done = subprocess.run(
        args, cwd=PACKAGE, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        output = f"{done.stdout[-8000:]}\n{done.stderr[-8000:]}"
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}\n{output}")
    return done


def _stale(stamp: Path, inputs: list[Path]) -> bool:
    if not stamp.exists():
        return True
    built = stamp.stat().st_mtime
    return any(path.stat().st_mtime > built for path in inputs)


def _sources_digest() -> str:
    """What the build depends on: a digest of the sources and the build configuration."""
    digest = hashlib.sha256()
    files = sorted(PACKAGE.glob("src/**/*.ts")) + [
        PACKAGE / name for name in ("tsconfig.json", "tsconfig.build.json", "package-lock.json")
    ]
    for path in files:
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@contextmanager
def _locked() -> Iterator[None]:
    with (PACKAGE / ".install-lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


WATCH_SCRIPT = PACKAGE / "test/live/watch.mjs"


class JsWatcher:
    """`clients/js/test/live/watch.mjs` as a child process: the built client against a real
    gateway, its JSON-line events collected as they come, driven by JSON-line commands.

    Fault tests kill and restart the gateway (or Redis) around it and then read `events()`:
    every state change, applied change, error and (with `frames=True`) raw frame is there.
    """

    def __init__(self, node: str, url: str, channels: list[str], *extra: str) -> None:
        args = [node, str(WATCH_SCRIPT), "--url", url, "--channels", ",".join(channels), *extra]
        self.proc = subprocess.Popen(
            args,
            cwd=PACKAGE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            with self._lock:
                self._events.append(event)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if kind is None or e["event"] == kind]

    def changes(self, channel: str) -> list[dict[str, Any]]:
        return [e for e in self.events("change") if e["channel"] == channel]

    def send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def wait_for(self, probe: Callable[[JsWatcher], T], *, timeout: float, what: str) -> T:
        """Poll `probe(self)` until truthy; fail with the watcher's output after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"watch.mjs exited {self.proc.returncode}: {self.output()}")
            found = probe(self)
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}: {self.output()}")

    def dump(self, timeout: float = 10) -> dict[str, Any]:
        """The client's values, positions and diagnostics, now."""
        before = len(self.events("dump"))
        self.send({"cmd": "dump"})
        return self.wait_for(
            lambda w: w.events("dump")[before] if len(w.events("dump")) > before else None,
            timeout=timeout,
            what="a dump",
        )

    def rest(self, method: str, *args: Any, timeout: float = 15) -> dict[str, Any]:
        """Call one of the client's REST methods; its `rest` event (ok/body or ok/error)."""
        ident = len(self.events("rest"))
        self.send({"cmd": "rest", "id": ident, "method": method, "args": list(args)})
        return self.wait_for(
            lambda w: next((e for e in w.events("rest") if e["id"] == ident), None),
            timeout=timeout,
            what=f"the answer to {method}{args}",
        )

    def finish(self, timeout: float = 15) -> dict[str, Any]:
        """Close stdin (the script's signal to stop); its final dump."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        assert code == 0, f"watch.mjs exited {code}: {self.output()}"
        return self.events("dump")[-1]

    def kill(self) -> None:
        """Stop the process if it still runs, and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()

    def output(self) -> str:
        stderr = ""
        pipe = self.proc.stderr
        if self.proc.poll() is not None and pipe is not None and not pipe.closed:
            stderr = pipe.read()
        tail = [json.dumps(e) for e in self.events() if e["event"] != "frame"][-40:]
        return "\n".join([*tail, stderr])


@contextmanager
def js_watcher(url: str, channels: list[str], *extra: str) -> Iterator[JsWatcher]:
    """A running watcher (the package installed and built first); killed if still running."""
    node, _npm = ensure_ready()
    watcher = JsWatcher(node, url, channels, *extra)
    try:
        yield watcher
    finally:
        watcher.kill()
