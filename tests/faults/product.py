"""The whole product as processes, with the handles a fault scenario needs.

`FaultStack` is the system tests' `Stack` (private AOF redis-server, simulated ingestor at
600×, compute, a gateway) plus a second gateway replica on its own port, more compute
replicas, and Redis signalled for real: SIGSTOP/SIGCONT (a frozen server), SIGKILL and a
restart from its AOF, or a restart with its data directory emptied (everything lost).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from marketpulse_common.keys import candles_key
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import free_port
from tests.faults.load import WsReader
from tests.faults.verdict import Verdict, compare
from tests.processes import ServiceProcess, wait_healthy
from tests.system.stack import ASSET, Stack
from tests.waiting import eventually

__all__ = ["ASSET", "FaultStack", "running_fault_stack"]


class FaultStack(Stack):
    def __init__(self, workdir: Path, *, env: Mapping[str, str] | None = None) -> None:
        # The faults signal one redis-server (SIGSTOP, SIGKILL, data lost): the cluster's
        # counterpart, a master killed and replaced, is tests/system/test_cluster_failover.py.
        super().__init__(workdir, env=env, topology="standalone")
        self.spare_port = free_port()
        self.spare: ServiceProcess | None = None
        self.replicas: list[ServiceProcess] = []

    @property
    def spare_url(self) -> str:
        return f"http://127.0.0.1:{self.spare_port}"

    @property
    def spare_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.spare_port}/v1/stream"

    def start_spare_gateway(self, timeout: float = 30) -> None:
        """A second gateway replica on `spare_port`, sharing everything else."""
        env = {**self.env(), "MP_GATEWAY_PORT": str(self.spare_port)}
        spare = self.spare = ServiceProcess("gateway", env, self.workdir)
        wait_healthy(
            self.spare_url,
            spare.proc,
            lambda: spare.log.read_text()[-2000:],
            timeout=timeout,
            what="spare gateway /healthz",
        )

    def start_compute_replica(self) -> ServiceProcess:
        replica = ServiceProcess("compute", self.env(), self.workdir)
        self.replicas.append(replica)
        return replica

    def stop(self) -> None:
        for child in (self.spare, *self.replicas):
            if child is not None:
                child.terminate(timeout=10)
        super().stop()

    # --- Redis, signalled for real -------------------------------------------------------

    def _redis_pid(self) -> int:
        pid = self.redis_server.pid
        assert pid is not None, "redis-server is not running"
        return pid

    def pause_redis(self) -> None:
        """SIGSTOP: the server holds every connection open and answers nothing."""
        os.kill(self._redis_pid(), signal.SIGSTOP)

    def resume_redis(self) -> None:
        os.kill(self._redis_pid(), signal.SIGCONT)

    def kill_redis(self) -> None:
        """SIGKILL: a crash; what the AOF holds (fsync every second) is what survives."""
        self.redis_server.kill()

    def start_redis(self) -> None:
        """Start redis-server again on the same port and data dir (reloading its AOF)."""
        self.redis_server.start(timeout=30)

    def lose_redis(self) -> None:
        """SIGKILL and restart with an empty data dir: every key, stream and group gone."""
        self.redis_server.kill()
        shutil.rmtree(self.redis_server.data_dir)
        self.redis_server.start(timeout=30)

    def services(self) -> list[ServiceProcess]:
        found = [self.ingestor, self.compute, self.gateway, self.spare, *self.replicas]
        return [child for child in found if child is not None]

    def assert_services_alive(self) -> None:
        """No service was restarted: every process the stack started still runs."""
        dead = [c.log.name for c in self.services() if c.proc.poll() is not None]
        assert dead == [], f"services exited: {dead}"

    def assert_services_alive_except_gateway(self) -> None:
        dead = [
            c.log.name
            for c in self.services()
            if c is not self.gateway and c.proc.poll() is not None
        ]
        assert dead == [], f"services exited: {dead}"

    def logs(self) -> str:
        return "\n".join(
            f"--- {c.log.name}\n" + c.log.read_text(errors="replace")[-3000:]
            for c in self.services()
        )


async def catch_up(
    stack: FaultStack, readers: Sequence[WsReader], channels: Sequence[str], timeout: float = 30
) -> dict[str, str]:
    """Wait for an update newer than the current one on every channel, then for every
    reader to have received it; returns those updates' seqs."""
    now = {ch: await asyncio.to_thread(stack.server_value, ch) for ch in channels}

    async def newer() -> dict[str, str] | None:
        found = {ch: await asyncio.to_thread(stack.server_value, ch) for ch in channels}
        seqs = {ch: v.seq for ch, v in found.items() if v is not None}
        before = {ch: v.seq for ch, v in now.items() if v is not None}
        if len(seqs) < len(channels) or any(before.get(ch) == seq for ch, seq in seqs.items()):
            return None
        return seqs

    targets = await eventually(newer, timeout=timeout, what="a new update on every channel")

    async def reached() -> bool:
        return all(r.has_reached(ch, seq) for ch, seq in targets.items() for r in readers)

    await eventually(reached, timeout=timeout, what=f"every client at {targets}")
    return targets


@contextmanager
def running_fault_stack(
    workdir: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[FaultStack]:
    stack = FaultStack(workdir, env=env)
    try:
        stack.start()
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()


def candle_history_verdict(stack: FaultStack, scenario: str, tf: Timeframe) -> Verdict:
    """The stored candle history (the sorted set the gateway serves): every open time from
    the oldest to the newest present, once each (no gap, no duplicate candle)."""
    raw = stack.redis.zrange(candles_key(ASSET, tf), 0, -1, withscores=True)
    times = [int(score) for _, score in raw]  # type: ignore[union-attr]
    if not times:
        return Verdict(scenario, 0, 0, 0, 0)
    produced = list(range(times[0], times[-1] + tf.seconds, tf.seconds))
    return compare(scenario, produced, times)


async def no_gap(
    stack: FaultStack, scenario: str = "candle history", least: int = 1
) -> Verdict | None:
    """The stored 5m candle history's verdict once it is whole (at least `least` candles
    checked, none lost); None before, for `eventually`."""
    verdict = await asyncio.to_thread(candle_history_verdict, stack, scenario, Timeframe.M5)
    return verdict if verdict.checked >= least and verdict.lost == 0 else None


def rest_urls(base: str) -> list[str]:
    """The REST reads the fault scenarios keep up as load: one per kind of resource."""
    api = f"{base}/v1/assets"
    return [
        f"{api}/{ASSET}/ticker",
        f"{api}/{ASSET}/candles?tf=5m&limit=50",
        f"{api}/{ASSET}/indicators?tf=5m",
        f"{api}/{ASSET}/snapshot?tf=5m",
        api,
    ]


async def readiness_is(http: httpx.AsyncClient, state: str) -> bool:
    response = await http.get("/readyz")
    return response.status_code in (200, 503) and response.json().get("state") == state
