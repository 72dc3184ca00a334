"""The one way a notification enters the inbox.

Every use case and the persister create notifications through `add_notifications`, in
the caller's transaction, so a notification exists exactly when the change that caused it
committed. (First version: plain inserts. The notifications work gives each one a
per-user sequence, enforces `dedupe_key` and announces it for live delivery.)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.tables import Notification


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification to store.

    `kind` is a stable upper-case code (OUTBID, AUCTION_WON, ...; docs list them);
    `message` is at most 500 characters of plain text; `dedupe_key`, when given, makes
    the notification at most once per (user, dedupe_key); `created_at` defaults to now.
    """

    user_id: uuid.UUID
    kind: str
    message: str
    auction_id: uuid.UUID | None = None
    dedupe_key: str | None = None
    created_at: datetime | None = None


async def add_notifications(session: Any, items: Sequence[NewNotification]) -> None:
    """Store `items` in `session`'s transaction (an sqlmodel AsyncSession)."""
    for item in items:
        row = Notification(
            user_id=item.user_id, kind=item.kind, message=item.message, auction_id=item.auction_id
        )
        if item.created_at is not None:
            row.created_at = item.created_at
        session.add(row)
