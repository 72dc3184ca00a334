"""Small process helpers shared by the server wrappers.

They exist because servers outlive the Python process that started them (pg_ctl
daemonizes PostgreSQL; a killed test run leaves Valkey behind), so a later start must
recognise a leftover server by the pid it wrote, without trusting a recycled pid.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


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
