"""Notifications: the inbox's read marks; the live `myNotifications` stream is not built
yet (NOT_AVAILABLE_YET until the notifications issue lands)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from domain.errors import NotAvailableYet, ValidationFailed
from schema.context import Ctx
from schema.notification_types import Notification
from schema.payloads import SimplePayload
from services import inbox

from .common import as_payload, parse_id, viewer


async def mark_notifications_read(info: Ctx, ids: list[strawberry.ID]) -> SimplePayload:
    async def act() -> SimplePayload:
        if len(ids) > 500:
            raise ValidationFailed("at most 500 ids at once", field="ids")
        await inbox.mark_read(info.context.deps, viewer(info), [parse_id(i, "ids") for i in ids])
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def my_notifications(info: Ctx) -> AsyncGenerator[Notification]:
    raise NotAvailableYet("myNotifications")
    yield  # pragma: no cover
