"""Mutations of later issues (settlement) and the inbox."""

from __future__ import annotations

import strawberry

from domain.errors import NotAvailableYet, ValidationFailed
from schema.errors import UserError
from schema.payloads import SimplePayload
from services import inbox

from .common import Ctx, as_payload, parse_id, viewer


def _later(feature: str) -> SimplePayload:
    return SimplePayload.failed(UserError.of(NotAvailableYet(feature)))


async def mark_notifications_read(info: Ctx, ids: list[strawberry.ID]) -> SimplePayload:
    async def act() -> SimplePayload:
        if len(ids) > 500:
            raise ValidationFailed("at most 500 ids at once", field="ids")
        await inbox.mark_read(info.context.deps, viewer(info), [parse_id(i, "ids") for i in ids])
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def confirm_receipt(info: Ctx, transaction_id: strawberry.ID) -> SimplePayload:
    return _later("confirmReceipt")


async def open_dispute(
    info: Ctx, transaction_id: strawberry.ID, reason: str, message: str
) -> SimplePayload:
    return _later("openDispute")


async def leave_feedback(
    info: Ctx, transaction_id: strawberry.ID, rating: int, comment: str | None = None
) -> SimplePayload:
    return _later("leaveFeedback")
