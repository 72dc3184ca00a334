"""The notification inbox: read/unread state."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlmodel import col

from services.deps import Deps
from storage.tables import Notification, User


async def mark_read(deps: Deps, viewer: User, ids: list[uuid.UUID]) -> int:
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
