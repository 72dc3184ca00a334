"""The app server every HTTP-level benchmark runs: one uvicorn worker pinned to core 0."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devservers.app_server import stop_wait, uvicorn_command

ROOT = Path(__file__).resolve().parent.parent

# Benchmarks drive thousands of bids and sockets from one address: the rate limits stay
# on (their cost is part of what is measured) but far above the load. `env` may override.
BENCH_LIMITS = {
    "GAVEL_RATE_BID_USER": "1000000/1",
    "GAVEL_RATE_BID_USER_AUCTION": "1000000/1",
    "GAVEL_RATE_BID_IP": "1000000/1",
    "GAVEL_RATE_LOGIN_ACCOUNT": "1000000/1",
    "GAVEL_RATE_LOGIN_IP": "1000000/1",
    "GAVEL_RATE_REGISTER_IP": "1000000/1",
    "GAVEL_RATE_WS_CONNECTIONS_IP": "1000000",
    "GAVEL_RATE_WS_SUBSCRIBE": "1000000/1",
    "GAVEL_RATE_SEARCH_IP": "1000000/1",
}


def start_pinned(port: int, env: dict[str, str], loop: str, *flags: str) -> subprocess.Popen[bytes]:
    """`make run`'s uvicorn command plus the benchmarks' shared flags and `flags`.

    taskset execs uvicorn, so the Popen pid is the server's (its /proc entry can be read);
    resource limits of the calling process are inherited."""
    return subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            *uvicorn_command("127.0.0.1", port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            loop,
            "--http",
            "httptools",
            *flags,
        ],
        cwd=ROOT,
        env={**BENCH_LIMITS, **env},
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=stop_wait())
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
