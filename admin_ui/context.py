"""What the admin app's pages work with: one `AdminContext` per process.

The composition root (gavel_app.py) builds it from the same objects as the API and sets
it before NiceGUI starts; tests set their own (tests/admin_ui/simulation.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from adapters.metrics import Reading
from services.deps import Deps


@dataclass
class AdminContext:
    """The process's parts a page may use.

    - `deps`: the use cases' dependencies, exactly as the API gets them.
    - `redis`: the shared Redis client (live auction state, lags).
    - `bus`: the event bus (realtime/broadcast.py) pages subscribe to for live updates;
      None in a process without one (pages then refresh on their timer only).
    - `engine`: the SQLAlchemy engine (health checks only; pages read through services).
    - `refresh_seconds`: how often timers refresh a page's figures (GAVEL_ADMIN_REFRESH_SECONDS).
    - `lag_readings`: the scrape-time gauges of /metrics (outbox and closer lag), read
      with the metrics' timeout.
    - `open_sockets`: this process's open WebSockets and event streams (None: unknown).
    - `stripe_mode`: "emulator", "test" or "live" (system health).
    """

    deps: Deps
    redis: Any
    bus: Any
    engine: Any
    refresh_seconds: float = 2.0
    lag_readings: Callable[[], Awaitable[list[Reading]]] | None = None
    open_sockets: Callable[[], int] | None = None
    stripe_mode: str = "emulator"


_current: AdminContext | None = None


def set_context(context: AdminContext) -> None:
    global _current
    _current = context


def admin_context() -> AdminContext:
    """The process's context; raises RuntimeError before `set_context`."""
    if _current is None:
        raise RuntimeError("the admin app has no context: admin_ui.mount.mount_admin sets it")
    return _current
