"""A Docker engine and local base images for the compose test, on machines that have neither
a running engine nor a reachable image registry (these CI machines).

- `docker_engine()`: an engine that answers. When none does and the machine allows it (root
  on Debian, `MARKETPULSE_COMPOSE_TEST=1`), Debian's docker.io and docker-compose are
  installed and `dockerd` is started by hand; the engine is stopped again on the way out, so
  the test leaves no daemon behind. It says each of these steps on stderr.
- `local_base_image()`: a minimal Debian rootfs (debootstrap --variant=minbase, from the
  machine's configured apt source) with python3 and redis-server, imported as an image. It
  stands in for both `python:3.11-slim` and `redis:7-alpine`, which cannot be pulled here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.redis_fixtures import docker_engine_answers

BASE_PACKAGES = ("python3", "python3-venv", "redis-server", "ca-certificates")
BASE_REPOSITORY = "marketpulse-local/bookworm"
DEBIAN_SUITE = "bookworm"
ENGINE_PACKAGES = ("docker.io", "docker-compose", "debootstrap")
ENGINE_START_TIMEOUT_S = 60
INSTALL_TIMEOUT_S = 600


def say(line: str) -> None:
    print(f"[compose test] {line}", file=sys.stderr, flush=True)


def run(args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a command; on failure the assertion shows its output's tail."""
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if done.returncode != 0:
        tail = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{tail}")
    return done.stdout


def why_not_installable() -> str | None:
    """None when this machine may have an engine installed and started by the test."""
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("apt-get"):
        return "no apt-get (not Debian)"
    return None


def install_engine() -> None:
    missing = [
        p
        for p, tool in zip(
            ENGINE_PACKAGES, ("dockerd", "docker-compose", "debootstrap"), strict=True
        )
        if not shutil.which(tool)
    ]
    if not missing:
        return
    say(f"installing {' '.join(missing)} from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(
        ["apt-get", "install", "-y", "--no-install-recommends", *missing],
        timeout=INSTALL_TIMEOUT_S,
        env=env,
    )


@contextmanager
def docker_engine(workdir: Path) -> Iterator[None]:
    """An answering engine for the duration; one this started is stopped afterwards."""
    if docker_engine_answers():
        yield
        return
    install_engine()
    say("no Docker engine answers: starting dockerd by hand")
    log = (workdir / "dockerd.log").open("w")
    daemon = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
        while not docker_engine_answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dockerd did not start: {_tail(workdir / 'dockerd.log')}")
            time.sleep(0.5)
        yield
    finally:
        say("stopping the dockerd this test started")
        daemon.terminate()
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()


def local_base_image() -> str:
    """The local base image's tag, built unless an image of the same package set exists."""
    digest = hashlib.sha256(" ".join((DEBIAN_SUITE, *BASE_PACKAGES)).encode()).hexdigest()[:12]
    tag = f"{BASE_REPOSITORY}:{digest}"
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        return tag
    say(f"building {tag}: debootstrap --variant=minbase {DEBIAN_SUITE} + {' '.join(BASE_PACKAGES)}")
    with tempfile.TemporaryDirectory(prefix="mp-rootfs-") as rootfs:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                DEBIAN_SUITE,
                rootfs,
                _apt_mirror(),
            ],
            timeout=INSTALL_TIMEOUT_S,
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(Path(rootfs, cache), ignore_errors=True)
        with subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                ["docker", "import", "-", tag],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                timeout=300,
            )
        if imported.returncode != 0:
            raise AssertionError(f"docker import failed: {imported.stderr}")
    return tag


def python_version(image: str) -> str:
    return run(
        [
            "docker",
            "run",
            "--rm",
            image,
            "python3",
            "-c",
            "import platform; print(platform.python_version())",
        ],
        timeout=60,
    ).strip()


def _apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    for path in sorted(Path("/etc/apt").glob("sources.list*")) + sorted(
        Path("/etc/apt/sources.list.d").glob("*")
    ):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if line.startswith("URIs:") and "security" not in line:
                return words[1]
            if words[:1] == ["deb"] and "security" not in line:
                return next(w for w in words[1:] if w.startswith("http"))
    return "http://deb.debian.org/debian"


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
