"""ENDING_SOON (SPEC section 5): users who watch or bid on an auction are told once when
it has at most `lead` left (GAVEL_ENDING_SOON_SECONDS).

Every app process may run the job: the dedupe key `ENDING_SOON:<auction id>` makes the
notification at most once per (user, auction) whoever runs it, however often, and a
soft-close extension does not repeat it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import text

from realtime.auction_feed import announce_ending_soon
from realtime.background import StopSignal, cancelling
from services.deps import Deps
from storage.notification_writer import NewNotification, add_notifications

log = logging.getLogger("gavel.notifications")

# Watchers and bidders (bids not voided) of active auctions ending within the window,
# minus the seller and whoever was told already.
_DUE = text(
    """
    SELECT a.id AS auction_id, p.user_id
    FROM auctions a
    JOIN (
        SELECT auction_id, user_id FROM watchlist
        UNION
        SELECT auction_id, bidder_id FROM bids WHERE voided_at IS NULL
    ) p ON p.auction_id = a.id
    WHERE a.status = 'ACTIVE' AND a.ends_at > :now AND a.ends_at <= :until
      AND p.user_id <> a.seller_id
      AND NOT EXISTS (
          SELECT 1 FROM notifications n
          WHERE n.user_id = p.user_id AND n.dedupe_key = 'ENDING_SOON:' || a.id::text
      )
    ORDER BY a.ends_at, a.id, p.user_id
    LIMIT :limit
    """
)


def dedupe_key(auction_id: uuid.UUID) -> str:
    return f"ENDING_SOON:{auction_id}"


async def notify_ending_soon(deps: Deps, lead: timedelta, *, limit: int = 1000) -> int:
    """One pass: adds the due ENDING_SOON notifications (at most `limit`); returns how
    many were added (0 for those another process added first)."""
    now: datetime = deps.clock()
    async with deps.uow() as uow:
        conn = await uow.session.connection()
        # The category feed's ENDING_SOON (auctionFeed), decided by the same window.
        await announce_ending_soon(conn, now, now + lead, limit=limit)
        due = (await conn.execute(_DUE, {"now": now, "until": now + lead, "limit": limit})).all()
        if not due:
            await uow.commit()
            return 0
        added = await add_notifications(
            uow.session,
            [
                NewNotification(
                    user_id=row.user_id,
                    kind="ENDING_SOON",
                    auction_id=row.auction_id,
                    message="An auction you follow is ending soon.",
                    dedupe_key=dedupe_key(row.auction_id),
                    created_at=now,
                )
                for row in due
            ],
        )
        await uow.commit()
        return added


class EndingSoonJob:
    """Runs `notify_ending_soon` every `interval` seconds until stopped."""

    def __init__(self, deps: Deps, *, lead: timedelta, interval: float) -> None:
        self.deps = deps
        self.lead = lead
        self.interval = interval
        self.stopping = StopSignal()

    async def run(self) -> None:
        while not self.stopping.is_set:
            try:
                await notify_ending_soon(self.deps, self.lead)
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise
                log.exception("ending-soon pass failed; retrying")
            await self.stopping.sleep(self.interval)
