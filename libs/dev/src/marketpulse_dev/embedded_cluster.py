"""A private local Redis Cluster: six `redis-server --cluster-enabled yes` children.

Three masters and three replicas on free loopback ports, joined with
`redis-cli --cluster create … --cluster-replicas 1`. The node timeout is short (1 s by
default) so a killed master is replaced by its replica within a few seconds: this is what the
tests and benchmarks run the product against in cluster mode. Every node keeps an AOF, so a
restarted node rejoins with its data.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import redis

from marketpulse_dev.embedded_redis import RedisServer, RedisServerError, find_redis_server

# The cluster bus listens on port + 10000, so both must be free and below 65536.
_BUS_OFFSET = 10000


def free_cluster_port(taken: set[int]) -> int:
    """A loopback port that is free, and whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + _BUS_OFFSET >= 65536 or port in taken:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bus:
                bus.bind(("127.0.0.1", port + _BUS_OFFSET))
        except OSError:
            continue
        return port
    raise RedisServerError("no free port pair (port, port+10000) for a cluster node")


def find_redis_cli(server_binary: str) -> str:
    """redis-cli from PATH, else beside the redis-server binary."""
    found = shutil.which("redis-cli")
    if found:
        return found
    beside = Path(server_binary).with_name("redis-cli")
    if beside.exists():
        return str(beside)
    raise RedisServerError("no redis-cli on PATH: it is needed to create a local cluster")


@dataclass(frozen=True, slots=True)
class NodeInfo:
    port: int
    role: str  # "master" or "slave", as CLUSTER NODES says
    node_id: str


class LocalCluster:
    """Six cluster nodes (3 masters + 3 replicas) under one data dir; stop() ends them all."""

    def __init__(
        self,
        data_dir: Path,
        *,
        masters: int = 3,
        replicas_per_master: int = 1,
        node_timeout_ms: int = 1000,
        appendonly: bool = True,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.node_timeout_ms = node_timeout_ms
        self.replicas_per_master = replicas_per_master
        binary = find_redis_server()
        self._cli = find_redis_cli(binary)
        ports: set[int] = set()
        self.nodes: list[RedisServer] = []
        for i in range(masters * (1 + replicas_per_master)):
            port = free_cluster_port(ports)
            ports.add(port)
            node_dir = self.data_dir / f"node-{i}"
            self.nodes.append(
                RedisServer(
                    node_dir,
                    port=port,
                    appendonly=appendonly,
                    binary=binary,
                    extra_args=[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node_dir / "nodes.conf"),
                        "--cluster-node-timeout",
                        str(node_timeout_ms),
                        # Always fail over, however long the replica was cut off: in a test
                        # the replica is never far behind, and a refusal would hang the test.
                        "--cluster-replica-validity-factor",
                        "0",
                        # Keys whose slots are still served stay available while one master
                        # is failing over (what production clusters run with, too).
                        "--cluster-require-full-coverage",
                        "no",
                        "--cluster-allow-reads-when-down",
                        "no",
                    ],
                )
            )

    @property
    def url(self) -> str:
        """The URL of one node: enough for a cluster client to discover the rest."""
        return self.nodes[0].url

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def start(self, timeout: float = 30.0) -> None:
        try:
            for node in self.nodes:
                self._start_node(node)
            self._create(timeout)
            self.wait_ok(timeout)
        except BaseException:
            self.stop()
            raise

    def _start_node(self, node: RedisServer, attempts: int = 5) -> None:
        """Start one node; another process may take a probed-free port (or its bus port)
        before redis-server binds it, so a node that cannot listen gets a new pair."""
        for attempt in range(attempts):
            try:
                node.start()
                return
            except RedisServerError as e:
                if "Address already in use" not in str(e) or attempt == attempts - 1:
                    raise
                node.port = free_cluster_port({n.port for n in self.nodes})

    def _create(self, timeout: float) -> None:
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        done = subprocess.run(
            [
                self._cli,
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                str(self.replicas_per_master),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-4:])
            raise RedisServerError(f"redis-cli --cluster create failed: {tail}")

    def _client(self, port: int) -> redis.Redis:
        return redis.Redis(
            port=port, socket_connect_timeout=0.5, socket_timeout=1.0, decode_responses=True
        )

    def node_table(self) -> list[NodeInfo]:
        """Roles as the first live node sees them (after a failover: the new ones)."""
        for node in self.nodes:
            if not node.running:
                continue
            with self._client(node.port) as client:
                table = client.execute_command("CLUSTER NODES")  # parsed by redis-py
            rows = []
            for address, row in dict(table).items():
                flags = str(row["flags"]).split(",")
                if "fail" in flags or "fail?" in flags or not row.get("connected", True):
                    continue
                port = int(str(address).split("@")[0].rsplit(":", 1)[1])
                role = "master" if "master" in flags else "slave"
                rows.append(NodeInfo(port=port, role=role, node_id=str(row["node_id"])))
            return rows
        raise RedisServerError("no cluster node is running")

    def healthy(self) -> bool:
        """Every running node says cluster_state:ok and sees 3 live masters with a replica."""
        try:
            for node in self.nodes:
                if not node.running:
                    continue
                with self._client(node.port) as client:
                    info = client.execute_command("CLUSTER INFO")  # parsed by redis-py
                if dict(info).get("cluster_state") != "ok":
                    return False
            table = self.node_table()
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return False
        masters = [row for row in table if row.role == "master"]
        expected = len(self.nodes) // (1 + self.replicas_per_master)
        return len(masters) == expected

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every node agrees the cluster is ok, with its masters all known."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy() and self._replicas_synced():
                return
            time.sleep(0.1)
        raise RedisServerError(f"local cluster not ok within {timeout}s (ports {self.ports})")

    def _replicas_synced(self) -> bool:
        for node in self.nodes:
            if not node.running:
                continue
            with self._client(node.port) as client:
                info = client.info("replication")
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    def master_of(self, key: str) -> RedisServer:
        """The node that currently serves `key`'s slot."""
        with self._client(self.nodes[0].port) as client:
            slot = int(client.execute_command("CLUSTER KEYSLOT", key))
        for node in self.nodes:
            if not node.running:
                continue
            with self._client(node.port) as client:
                for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                    if int(start) <= slot <= int(end):
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
            break
        raise RedisServerError(f"no node serves slot {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
