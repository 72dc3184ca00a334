"""Email dispatch of notifications, off the request path (SPEC section 5).

Each app process may run the worker: a pass locks up to `batch` notifications not yet
handled (`emailed_at IS NULL`) with `FOR UPDATE SKIP LOCKED`, so two processes never take
the same row, mails those the user wants by email (services/notifications/preferences.py)
through the mailer port (adapters/mailer.py: the log in development), and marks every
taken row `emailed_at` in the same transaction. A crash between a send and the commit
sends that mail again on the next pass: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from realtime.background import StopSignal, cancelling
from services.deps import Deps
from services.notifications.preferences import wants_email

log = logging.getLogger("gavel.notifications")

SUBJECTS = {
    "OUTBID": "You have been outbid",
    "AUCTION_WON": "You won an auction",
    "AUCTION_LOST": "An auction you bid on has ended",
    "AUCTION_SOLD": "Your auction sold",
    "AUCTION_UNSOLD": "Your auction ended unsold",
    "RESERVE_MET": "Your reserve price was met",
    "ENDING_SOON": "An auction you follow is ending soon",
    "AUCTION_CANCELLED": "An auction was cancelled",
}

_TAKE = text(
    """
    SELECT n.id, n.kind, n.message, n.auction_id, u.email, u.notification_prefs,
           u.banned_at IS NOT NULL AS banned
    FROM notifications n JOIN users u ON u.id = n.user_id
    WHERE n.emailed_at IS NULL
    ORDER BY n.created_at
    LIMIT :batch
    FOR UPDATE OF n SKIP LOCKED
    """
)
_MARK = text("UPDATE notifications SET emailed_at = :now WHERE id = ANY(CAST(:ids AS uuid[]))")


def subject(kind: str) -> str:
    return "Gavel: " + SUBJECTS.get(kind, kind.replace("_", " ").capitalize())


async def dispatch_emails(deps: Deps, *, batch: int = 100) -> int:
    """One pass; returns how many mails were sent."""
    sent = 0
    async with deps.uow() as uow:
        conn = await uow.session.connection()
        rows = (await conn.execute(_TAKE, {"batch": batch})).all()
        if not rows:
            return 0
        for row in rows:
            if row.banned or not wants_email(row.notification_prefs, row.kind):
                continue
            about = f"\n\nAuction: {row.auction_id}" if row.auction_id else ""
            await deps.mailer.send(row.email, subject(row.kind), row.message + about)
            sent += 1
        await conn.execute(_MARK, {"now": deps.clock(), "ids": [str(r.id) for r in rows]})
        await uow.commit()
    return sent


class EmailDispatch:
    """Runs `dispatch_emails` every `interval` seconds until stopped (sooner while a
    pass finds a full batch)."""

    def __init__(self, deps: Deps, *, interval: float, batch: int = 100) -> None:
        self.deps = deps
        self.interval = interval
        self.batch = batch
        self.stopping = StopSignal()

    async def run(self) -> None:
        while not self.stopping.is_set:
            busy = False
            try:
                busy = await dispatch_emails(self.deps, batch=self.batch) >= self.batch
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise
                log.exception("notification email pass failed; retrying")
            if not busy:
                await self.stopping.sleep(self.interval)
