"""`myNotifications`: a user's notifications in sequence order, replayed then live.

The rows are read from PostgreSQL, after the last sequence number delivered; the feed
(realtime/notification_feed.py) only says when to read again. So a subscriber sees each
of its notifications once and in order, whatever wake-ups were lost, and never another
user's: every read is `WHERE user_id = <the subscriber>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable

from sqlalchemy import func
from sqlmodel import col, select

from domain.errors import ValidationFailed
from realtime.stream import ServerShuttingDown
from services.deps import Deps
from storage.tables import Notification

PAGE = 100  # rows read at once: a subscriber far behind holds at most this many
RECHECK_SECONDS = 2.0  # the account is checked again at most this often (on a wake or poll)


async def last_sequence(deps: Deps, user_id: uuid.UUID) -> int:
    """The user's newest notification's sequence number (0: none yet)."""
    async with deps.uow() as uow:
        found = await uow.session.exec(
            select(func.coalesce(func.max(Notification.seq), 0)).where(
                col(Notification.user_id) == user_id
            )
        )
        return int(found.one())


async def after(
    deps: Deps, user_id: uuid.UUID, since: int, limit: int = PAGE
) -> list[Notification]:
    """The user's notifications with sequence > `since`, oldest first, at most `limit`."""
    async with deps.uow() as uow:
        rows = await uow.session.exec(
            select(Notification)
            .where(col(Notification.user_id) == user_id, col(Notification.seq) > since)
            .order_by(col(Notification.seq))
            .limit(limit)
        )
        return list(rows.all())


async def stream(
    deps: Deps,
    user_id: uuid.UUID,
    since_sequence: int | None,
    recheck: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[Notification]:
    """The user's notifications after `since_sequence` (None: from now on), then each new
    one as it commits.

    Ends with ServerShuttingDown (SHUTTING_DOWN) when this process shuts down, after
    delivering what it had read. `recheck`, awaited after a wake-up or poll at most every
    RECHECK_SECONDS, ends the stream with its error when the account may no longer read
    (banned, token expired). Raises ValidationFailed (INVALID_INPUT, field
    sinceSequence) for a negative `since_sequence`."""
    if since_sequence is not None and since_sequence < 0:
        raise ValidationFailed("sinceSequence cannot be negative", field="sinceSequence")
    feed = deps.notifications
    # Without a feed (a tool built without one) the wait below is a plain poll.
    poll = feed.poll_seconds if feed is not None else 1.0
    watching = feed.watch(user_id) if feed is not None else contextlib.nullcontext(asyncio.Event())
    with watching as wake:
        # Watching before reading the start: a notification committed in between wakes us.
        since = since_sequence if since_sequence is not None else await last_sequence(deps, user_id)
        loop = asyncio.get_running_loop()
        every = min(poll, RECHECK_SECONDS)
        next_check = loop.time() + every
        while True:
            wake.clear()
            rows = await after(deps, user_id, since)
            for row in rows:
                since = row.seq
                yield row
            if feed is not None and feed.closed:
                raise ServerShuttingDown(
                    "the server is shutting down: subscribe again with sinceSequence"
                )
            if len(rows) < PAGE:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), poll)
            now = loop.time()
            if recheck is not None and now >= next_check:
                next_check = now + every
                await recheck()
