"""The notification inbox: read/unread state. Only the viewer's own rows are ever read or
changed (`user_id = viewer`)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlmodel import col, select

from services.deps import Deps
from storage.tables import Notification, User


async def mark_read(deps: Deps, viewer: User, ids: list[uuid.UUID]) -> int:
    """Mark the viewer's notifications among `ids` read; ids of other users' notifications
    (or unknown ones) are ignored. Returns how many changed."""
    async with deps.uow() as uow:
        result = await uow.session.exec(
            update(Notification)
            .where(
                col(Notification.id).in_(ids),
                col(Notification.user_id) == viewer.id,
                col(Notification.read_at).is_(None),
            )
            .values(read_at=deps.clock())
        )
        await uow.commit()
        return int(result.rowcount or 0)


async def unread_count(deps: Deps, user_id: uuid.UUID) -> int:
    """How many of the user's notifications are unread."""
    async with deps.uow() as uow:
        found = await uow.session.exec(
            select(func.count())
            .select_from(Notification)
            .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        )
        return int(found.one())
