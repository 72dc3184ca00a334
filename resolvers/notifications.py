"""Notifications: the inbox's read marks, email preferences and the live
`myNotifications` stream (services/inbox.py, services/notifications/)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from domain.errors import ValidationFailed
from schema.context import Ctx
from schema.notification_types import (
    Notification,
    NotificationPreferenceInput,
    NotificationPreferencesPayload,
    preference_list,
)
from schema.payloads import SimplePayload
from schema.socket_session import bearer
from services import accounts, inbox
from services.notifications import live
from services.notifications import preferences as preferences_mod
from services.unavailable import Unavailable

from .common import as_payload, parse_id, viewer


async def mark_notifications_read(info: Ctx, ids: list[strawberry.ID]) -> SimplePayload:
    async def act() -> SimplePayload:
        if len(ids) > 500:
            raise ValidationFailed("at most 500 ids at once", field="ids")
        await inbox.mark_read(info.context.deps, viewer(info), [parse_id(i, "ids") for i in ids])
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def update_notification_preferences(
    info: Ctx, preferences: list[NotificationPreferenceInput]
) -> NotificationPreferencesPayload:
    async def act() -> NotificationPreferencesPayload:
        changes = {p.kind: p.email for p in preferences}
        if len(changes) != len(preferences):
            raise ValidationFailed("a kind is given twice", field="preferences")
        choices = await preferences_mod.update_email_preferences(
            info.context.deps, viewer(info).id, changes
        )
        return NotificationPreferencesPayload(preferences=preference_list(choices))

    return await as_payload(NotificationPreferencesPayload.failed, act)


async def my_notifications(
    info: Ctx, since_sequence: int | None = None
) -> AsyncGenerator[Notification]:
    """The viewer's own notifications: after `since_sequence` and then live, or live
    from now without it (services/notifications/live.py)."""
    user = viewer(info)
    deps, context = info.context.deps, info.context
    # The token this subscription authenticated with: a socket's, or the request's header.
    token = getattr(context, "token", None) or bearer(
        getattr(context.request, "headers", {}).get("authorization")
    )

    async def recheck() -> None:
        """A private stream ends when its account may no longer read it (banned:
        ACCOUNT_BANNED; token expired): the error ends the subscription."""
        if token is None:
            return
        with contextlib.suppress(Unavailable):  # an outage is no reason to end it
            await accounts.user_for_access_token(deps, token)

    async with aclosing(live.stream(deps, user.id, since_sequence, recheck)) as rows:
        async for row in rows:
            yield Notification(row=row)
