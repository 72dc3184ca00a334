"""Small process helpers shared by the server wrappers.

They exist because servers outlive the Python process that started them (pg_ctl
daemonizes PostgreSQL; a killed test run leaves Valkey behind), so a later start must
recognise a leftover server by the pid it wrote, without trusting a recycled pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO


def process_name(pid: int) -> str | None:
    """Name of a live process, "" if alive but unnamed/unknown, None if gone or a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""  # no /proc (not Linux): alive, name unknown
    # Format: "pid (comm) state ..."; comm may contain spaces or parentheses.
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    state = stat[stat.rindex(")") + 2 :].split(" ", 1)[0]
    return None if state in ("Z", "X") else name


def read_pid(pidfile: Path) -> int | None:
    """First line of a pid file as an int, or None if missing/garbled."""
    try:
        first = pidfile.read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until pid has exited; True if it did within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_name(pid) is None:
            return True
        time.sleep(0.05)
    return process_name(pid) is None


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within timeout."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_gone(pid, timeout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        wait_gone(pid, 10.0)


def tail(path: Path, lines: int = 30) -> str:
    """Last lines of a log file, for error messages that explain a failed start."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def spawn_server(
    command: list[str],
    *,
    name: str,
    cwd: Path,
    log: IO[bytes],
    log_file: Path,
    ready: Callable[[], bool],
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server in its own session (a Ctrl-C in the terminal reaches the runner,
    which stops it in order) and wait until `ready()`; on death or timeout kill it and
    raise RuntimeError with the end of its log."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{name} did not start:\n--- {log_file} ---\n{tail(log_file)}")
        time.sleep(0.05)
    return proc


def stop_child(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM a child server; SIGKILL if it has not exited within `timeout`."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
