"""The real app in its own uvicorn process, as `make run` serves it (tests, benchmarks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from devservers.ports import free_port
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def ws_compression() -> bool:
    """GAVEL_WS_COMPRESSION: offer permessage-deflate to WebSocket clients (default off).

    Gavel's messages are small JSON texts (≈ 300 bytes) that deflate saves little on,
    while every socket compresses its own copy of every event and keeps a compressor and
    a decompressor: at 5,000 subscribers it cut fan-out throughput to about a third and
    more than doubled the memory per idle subscription (docs/performance.md)."""
    return os.environ.get("GAVEL_WS_COMPRESSION", "").strip().lower() in ("1", "true", "yes", "on")


def ws_max_size(env: Mapping[str, str] | None = None) -> int:
    """The largest WebSocket message uvicorn accepts: GAVEL_MAX_REQUEST_BYTES, the same
    cap as HTTP bodies (uvicorn's own default, 16 MiB, would let a socket send 8 times
    more than a request). `env` defaults to this process's environment."""
    return _env_setting(env, "GAVEL_MAX_REQUEST_BYTES", "max_request_bytes")


def shutdown_timeout(env: Mapping[str, str] | None = None) -> int:
    """uvicorn's --timeout-graceful-shutdown: GAVEL_SHUTDOWN_TIMEOUT (settings.py), the
    seconds requests in flight get after SIGTERM. Without it uvicorn waits for every open
    connection forever. `env` defaults to this process's environment."""
    return _env_setting(env, "GAVEL_SHUTDOWN_TIMEOUT", "shutdown_timeout_seconds")


def _env_setting(env: Mapping[str, str] | None, name: str, field: str) -> int:
    raw = (os.environ if env is None else env).get(name, "").strip()
    if raw:
        return int(raw)
    default = Settings.model_fields[field].default
    assert isinstance(default, int)
    return default


def uvicorn_command(
    host: str, port: int, *flags: str, env: Mapping[str, str] | None = None
) -> list[str]:
    """How Gavel runs uvicorn everywhere: `make run`, the tests and the benchmarks.

    `env` is the environment the server will run with (default: this process's)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "gavel_app:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--ws-per-message-deflate",
        "true" if ws_compression() else "false",
        "--ws-max-size",
        str(ws_max_size(env)),
        "--timeout-graceful-shutdown",
        str(shutdown_timeout(env)),
        *flags,
    ]


def stop_wait(env: Mapping[str, str] | None = None) -> float:
    """How long a graceful stop may take before a supervisor kills the app: the delay,
    the requests' time, the final drain's (each GAVEL_SHUTDOWN_TIMEOUT at most), and a
    margin for the background loops and closing connections."""
    raw = (os.environ if env is None else env).get("GAVEL_SHUTDOWN_DELAY", "").strip()
    return (float(raw) if raw else 0.0) + 2 * shutdown_timeout(env) + 10


@contextmanager
def app_server(
    env: Mapping[str, str], *, log_file: Path | None = None, port: int | None = None
) -> Iterator[str]:
    """Start uvicorn with `env` on top of this process's environment; yields its base URL.

    Output goes to `log_file` (or nowhere): a pipe nobody reads fills up and freezes the
    server mid-test.
    """
    port = port or free_port()
    sink = log_file.open("ab") if log_file else subprocess.DEVNULL
    full_env = {**os.environ, **env}
    proc = subprocess.Popen(
        uvicorn_command("127.0.0.1", port, env=full_env),
        cwd=ROOT,
        env=full_env,
        stdout=sink,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app server did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_wait(full_env))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if log_file:
            sink.close()  # type: ignore[union-attr]
