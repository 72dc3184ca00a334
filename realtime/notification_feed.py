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

from realtime.background import StopSignal
from realtime.pg_listen import Listener
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
        self._watchers: dict[uuid.UUID, set[asyncio.Event]] = {}
        self.closed = False  # shutting down: live streams end (SHUTTING_DOWN)
        # Every (re)connection wakes all: whatever was committed while no one listened.
        self._listener = Listener(
            dsn,
            CHANNEL,
            self._notified,
            stopping=self.stopping,
            application_name="gavel-notifications",
            log=log,
            connected=self.wake_all,
            ping_seconds=poll_seconds,
            reconnect_seconds=reconnect_seconds,
        )
        self.listening = self._listener.listening  # set while the LISTEN connection is up

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

    def _notified(self, payload: str) -> None:
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
        self._listener.interrupt()

    async def run(self) -> None:
        """Listen until stopped, reconnecting after a lost connection."""
        await self._listener.run()
