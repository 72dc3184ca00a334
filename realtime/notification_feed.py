"""Wake-ups for live notifications: one LISTEN connection per app process.

`storage/notification_writer.py` runs `pg_notify('gavel_notifications', '<user>:<seq>')`
in the transaction that adds a user's notifications; PostgreSQL delivers it on commit to
every process listening. The feed wakes that user's local `myNotifications` subscribers,
which then read their rows after the last one they delivered from PostgreSQL
(services/notifications/live.py). A wake-up carries no data, so one that is lost (the
listener was reconnecting) can only delay a notification, never drop or reorder it:
after every (re)connection all subscribers are woken to read again, and each subscriber
also reads every `poll_seconds` on its own (the safety poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg

from realtime.background import StopSignal, cancelling
from storage.notification_writer import CHANNEL

log = logging.getLogger("gavel.notifications")


def plain_dsn(database_url: str) -> str:
    """asyncpg's DSN for the app's SQLAlchemy URL (postgresql+asyncpg://...)."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class NotificationFeed:
    """The process's notification wake-ups. `watch(user_id)` gives an `asyncio.Event` set
    whenever that user may have new notifications."""

    def __init__(
        self, dsn: str, *, poll_seconds: float = 5.0, reconnect_seconds: float = 1.0
    ) -> None:
        self.dsn = dsn
        self.poll_seconds = poll_seconds
        self.reconnect_seconds = reconnect_seconds
        self.stopping = StopSignal()
        self.listening = asyncio.Event()  # set while the LISTEN connection is up
        self._watchers: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._lost = asyncio.Event()  # the connection ended, or the feed is stopping
        self.closed = False  # shutting down: live streams end (SHUTTING_DOWN)

    @contextlib.contextmanager
    def watch(self, user_id: uuid.UUID) -> Iterator[asyncio.Event]:
        wake = asyncio.Event()
        self._watchers.setdefault(user_id, set()).add(wake)
        try:
            yield wake
        finally:
            watchers = self._watchers.get(user_id)
            if watchers is not None:
                watchers.discard(wake)
                if not watchers:
                    del self._watchers[user_id]

    @property
    def watched_users(self) -> int:
        return len(self._watchers)

    def wake(self, user_id: uuid.UUID) -> None:
        for event in self._watchers.get(user_id, ()):
            event.set()

    def wake_all(self) -> None:
        for watchers in self._watchers.values():
            for event in watchers:
                event.set()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        user, _, _seq = payload.partition(":")
        try:
            self.wake(uuid.UUID(user))
        except ValueError:
            log.warning("notification wake-up with a malformed payload %r", payload)

    def close(self) -> None:
        """Shutdown's stop step: every live stream of this process ends (the client
        resubscribes elsewhere with sinceSequence)."""
        self.closed = True
        self.wake_all()

    def stop(self) -> None:
        self.stopping.set()
        self._lost.set()

    async def run(self) -> None:
        """Listen until stopped, reconnecting after a lost connection."""
        while not self.stopping.is_set:
            conn: Any = None
            try:
                conn = await asyncpg.connect(
                    self.dsn, server_settings={"application_name": "gavel-notifications"}
                )
                self._lost = lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                self.listening.set()
                self.wake_all()  # whatever was committed while no one listened
                while not self.stopping.is_set and not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self.poll_seconds)
                    if not lost.is_set() and not self.stopping.is_set:
                        # A peer that vanished without a word shows here.
                        await asyncio.wait_for(conn.execute("SELECT 1"), self.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if cancelling():
                    raise
                log.warning("notification listener lost (%r); reconnecting", err)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
            if not self.stopping.is_set:
                log.info("notification listener reconnecting")
                await self.stopping.sleep(self.reconnect_seconds)
