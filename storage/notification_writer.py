"""The one way a notification enters the inbox.

Every use case and the persister create notifications through `add_notifications`, in
the caller's transaction, so a notification exists exactly when the change that caused it
committed, and:

- each gets the user's next sequence number (`notifications.seq`, gapless per user) from
  `notification_counters`; the counter row's lock orders the transactions of one user,
  so their commit order is the sequence order (a reader of seq > n misses nothing);
- a `dedupe_key` makes it at most once per (user, key), across processes: a duplicate is
  skipped without taking a sequence number;
- `pg_notify('gavel_notifications', '<user_id>:<last seq>')` announces it; PostgreSQL
  delivers that only on commit, to every listening app process
  (realtime/notification_feed.py), never for a rolled-back transaction.

Event-driven notifications are exactly once because the persister adds them only when the
event row is new (realtime/event_records.py); job-driven ones carry a `dedupe_key`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import DateTime, String, Uuid

CHANNEL = "gavel_notifications"


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification to store.

    `kind` is a stable upper-case code (OUTBID, AUCTION_WON, ...; docs/notifications.md
    lists them); `message` is at most 500 characters of plain text; `dedupe_key` (at most
    120 characters), when given, makes the notification at most once per
    (user, dedupe_key); `created_at` defaults to now.
    """

    user_id: uuid.UUID
    kind: str
    message: str
    auction_id: uuid.UUID | None = None
    dedupe_key: str | None = None
    created_at: datetime | None = None


# One statement: bump each user's counter (users in one order: no deadlock between two
# writers), insert the rows numbered after it, announce each user's new last seq.
_INSERT = text(
    """
    WITH items AS (
        SELECT * FROM unnest(
            CAST(:users AS uuid[]), CAST(:kinds AS text[]), CAST(:messages AS text[]),
            CAST(:auctions AS uuid[]), CAST(:keys AS text[]), CAST(:created AS timestamptz[])
        ) WITH ORDINALITY AS t(user_id, kind, message, auction_id, dedupe_key, created_at, ord)
    ),
    counts AS (SELECT user_id, count(*) AS n FROM items GROUP BY user_id),
    bumped AS (
        INSERT INTO notification_counters (user_id, last_seq)
        SELECT user_id, n FROM counts ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE
            SET last_seq = notification_counters.last_seq + excluded.last_seq
        RETURNING user_id, last_seq
    ),
    added AS (
        INSERT INTO notifications
            (id, user_id, seq, kind, message, auction_id, dedupe_key, created_at)
        SELECT gen_random_uuid(), i.user_id,
               b.last_seq - c.n + row_number() OVER (PARTITION BY i.user_id ORDER BY i.ord),
               i.kind, i.message, i.auction_id, i.dedupe_key, i.created_at
        FROM items i JOIN bumped b USING (user_id) JOIN counts c USING (user_id)
        RETURNING 1
    )
    SELECT pg_notify(:channel, b.user_id::text || ':' || b.last_seq::text)
    FROM bumped b
    """
).bindparams(
    bindparam("users", type_=ARRAY(Uuid())),
    bindparam("kinds", type_=ARRAY(String())),
    bindparam("messages", type_=ARRAY(String())),
    bindparam("auctions", type_=ARRAY(Uuid())),
    bindparam("keys", type_=ARRAY(String())),
    bindparam("created", type_=ARRAY(DateTime(timezone=True))),
)

# Takes the users' counter locks without changing them: a concurrent writer of the same
# dedupe key commits (or not) before the check below reads.
_LOCK_COUNTERS = text(
    """
    INSERT INTO notification_counters (user_id, last_seq)
    SELECT u, 0 FROM unnest(CAST(:users AS uuid[])) AS u ORDER BY u
    ON CONFLICT (user_id) DO UPDATE SET last_seq = notification_counters.last_seq
    """
).bindparams(bindparam("users", type_=ARRAY(Uuid())))

_EXISTING_KEYS = text(
    """
    SELECT n.user_id, n.dedupe_key FROM notifications n
    JOIN unnest(CAST(:users AS uuid[]), CAST(:keys AS text[])) AS k(user_id, dedupe_key)
      ON n.user_id = k.user_id AND n.dedupe_key = k.dedupe_key
    """
).bindparams(
    bindparam("users", type_=ARRAY(Uuid())),
    bindparam("keys", type_=ARRAY(String())),
)


async def add_notifications(session: Any, items: Sequence[NewNotification]) -> int:
    """Store `items` in the caller's transaction; returns how many were added (duplicates
    by `dedupe_key` are not).

    `session` is an sqlmodel/SQLAlchemy `AsyncSession` (its pending rows are flushed
    first, so a notification may name an auction added in the same transaction) or an
    `AsyncConnection` (the persister's bulk path). One statement when no item has a
    `dedupe_key`; two more when some do.
    """
    if not items:
        return 0
    if isinstance(session, AsyncSession):
        await session.flush()
        conn = await session.connection()
    else:
        conn = session
    keyed = [i for i in items if i.dedupe_key is not None]
    if keyed:
        items = await _without_duplicates(conn, items, keyed)
        if not items:
            return 0
    now = datetime.now(UTC)
    await conn.execute(
        _INSERT,
        {
            "users": [i.user_id for i in items],
            "kinds": [i.kind for i in items],
            "messages": [i.message for i in items],
            "auctions": [i.auction_id for i in items],
            "keys": [i.dedupe_key for i in items],
            "created": [i.created_at or now for i in items],
            "channel": CHANNEL,
        },
    )
    return len(items)


async def _without_duplicates(
    conn: Any, items: Sequence[NewNotification], keyed: list[NewNotification]
) -> list[NewNotification]:
    await conn.execute(_LOCK_COUNTERS, {"users": sorted({i.user_id for i in keyed})})
    found = await conn.execute(
        _EXISTING_KEYS,
        {"users": [i.user_id for i in keyed], "keys": [i.dedupe_key for i in keyed]},
    )
    seen: set[tuple[uuid.UUID, str]] = {(r[0], r[1]) for r in found.all()}
    kept: list[NewNotification] = []
    for item in items:
        if item.dedupe_key is not None:
            key = (item.user_id, item.dedupe_key)
            if key in seen:
                continue
            seen.add(key)  # also once within this batch
        kept.append(item)
    return kept
