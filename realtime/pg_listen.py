"""One PostgreSQL LISTEN connection that stays up: the wake-up source of the
notification feed, the category feed and the search indexer.

`listen(...)` connects, LISTENs on `channel`, calls `connected()` (a caller reads what
was committed while no one listened), then waits; every `ping_seconds` it pings, so a
peer that vanished without a word is noticed. A lost connection is logged and
reconnected after `reconnect_seconds`, until `stopping` is set. PostgreSQL delivers a
NOTIFY only on commit, and not while the connection is down, so every user treats a
notification as a hint to read, never as the data itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from realtime.background import StopSignal, cancelling


class Listener:
    """`run()` listens until `stopping` is set; `interrupt()` ends the current
    connection at once (a stop, or a test simulating a loss). `listening` is set while
    the connection is up."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        notified: Callable[[str], None],
        *,
        stopping: StopSignal,
        application_name: str,
        log: logging.Logger,
        connected: Callable[[], None] = lambda: None,
        ping_seconds: float = 5.0,
        reconnect_seconds: float = 1.0,
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.notified = notified
        self.stopping = stopping
        self.application_name = application_name
        self.log = log
        self.connected = connected
        self.ping_seconds = ping_seconds
        self.reconnect_seconds = reconnect_seconds
        self.listening = asyncio.Event()
        self._lost = asyncio.Event()

    def interrupt(self) -> None:
        self._lost.set()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.notified(payload)

    async def run(self) -> None:
        while not self.stopping.is_set:
            conn: Any = None
            try:
                conn = await asyncpg.connect(
                    self.dsn, server_settings={"application_name": self.application_name}
                )
                self._lost = lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(self.channel, self._on_notify)
                self.listening.set()
                self.connected()
                while not self.stopping.is_set and not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self.ping_seconds)
                    if not lost.is_set() and not self.stopping.is_set:
                        await asyncio.wait_for(conn.execute("SELECT 1"), self.ping_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if cancelling():
                    raise  # a driver turned our cancellation into another error
                self.log.warning("%s listener lost (%r); reconnecting", self.channel, err)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
            if not self.stopping.is_set:
                await self.stopping.sleep(self.reconnect_seconds)
