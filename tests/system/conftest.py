from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from marketpulse_dev.embedded_cluster import LocalCluster
from marketpulse_dev.embedded_redis import free_port
from tests.processes import wait_healthy
from tests.redis_fixtures import ProductRedis, RedisTarget, session_cluster, system_topology

ASSETS = "bitcoin,ethereum"


@dataclass
class Product:
    """The whole product started as `make demo` starts it, plus its collected output."""

    proc: subprocess.Popen[bytes]
    base_url: str
    ws_url: str
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None
    # The Redis Cluster it runs on, when it was started on one (else its embedded Redis).
    cluster: LocalCluster | None = None

    def finished_output(self, timeout: float = 10) -> str:
        """All output, once the process has exited and its pipe is drained and closed."""
        if self.reader is not None:
            self.reader.join(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.output()

    def output(self) -> str:
        return "\n".join(self.lines[-200:])


def _collect(proc: subprocess.Popen[bytes], lines: list[str]) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        lines.append(raw.decode(errors="replace").rstrip())


def start_product(data_dir: Path, **env: str) -> Product:
    port = free_port()
    inherited = dict(os.environ)
    # The supervisor's own embedded Redis unless the caller names one (`**env`).
    inherited.pop("MP_REDIS_URL", None)
    inherited.pop("MP_REDIS_CLUSTER", None)
    full_env = {
        **inherited,
        "MP_SOURCE": "simulated",
        "MP_SIM_SPEED": "300",
        "MP_ASSETS": ASSETS,
        "MP_GATEWAY_PORT": str(port),
        "MP_LOG_FORMAT": "json",
        "MP_HISTORY_DEPTH": "200",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketpulse_dev.supervisor", "--data-dir", str(data_dir)],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    product = Product(proc, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/v1/stream")
    product.reader = threading.Thread(target=_collect, args=(proc, product.lines), daemon=True)
    product.reader.start()
    return product


def stop_product(product: Product, timeout: float = 40) -> int:
    if product.proc.poll() is None:
        product.proc.send_signal(signal.SIGINT)
    try:
        return product.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        product.proc.kill()
        product.proc.wait()
        raise
    finally:
        product.finished_output()


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """The product running for a whole test module; it must answer /healthz within 30 s."""
    with running_product(tmp_path_factory.mktemp("product")) as running:
        yield running


@contextmanager
def suite_redis(
    data_dir: Path, env: dict[str, str]
) -> Iterator[tuple[dict[str, str], LocalCluster | None]]:
    """`env` plus what points the product at the suite's Redis: nothing (the supervisor's
    embedded Redis) or, when the suite runs on a cluster and `env` names no Redis, a private
    local cluster (MP_REDIS_URL + MP_REDIS_CLUSTER) that is stopped on the way out."""
    if system_topology() != "cluster" or "MP_REDIS_URL" in env:
        yield env, None
        return
    with session_cluster(data_dir) as cluster:
        yield {**env, **RedisTarget(cluster.url, cluster=True).env()}, cluster


@contextmanager
def running_product(data_dir: Path, **env: str) -> Iterator[Product]:
    """`make demo` as a user runs it, healthy (/healthz) within 30 s; stopped on the way out,
    on the suite's Redis (`suite_redis`)."""
    with suite_redis(data_dir, env) as (full_env, cluster):
        running = start_product(data_dir, **full_env)
        running.cluster = cluster
        try:
            wait_healthy(running.base_url, running.proc, running.output)
            yield running
        finally:
            stop_product(running)


@pytest.fixture
def product_redis(tmp_path: Path) -> Iterator[RedisTarget]:
    """A private Redis on the suite's topology for one test's own service processes."""
    backing = ProductRedis.for_suite(tmp_path)
    backing.start()
    try:
        yield backing.target
    finally:
        backing.stop()


# Modules the cluster pass skips, and why: they do not run the product on the suite's Redis.
_DEFAULT_PASS_ONLY = {
    "test_readme.py": "the README's commands are typed as written: `make demo` on its embedded "
    "standalone Redis",
    "test_cluster_failover.py": "starts a cluster of its own; runs once, in the default pass",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if system_topology() != "cluster":
        return
    for item in items:
        reason = _DEFAULT_PASS_ONLY.get(item.path.name)
        if reason and "system" in str(item.path.parent):
            item.add_marker(pytest.mark.skip(reason=f"cluster pass: {reason}"))
