"""Settlement mutations (receipt, disputes, feedback): not built yet; each answers a
payload error NOT_AVAILABLE_YET until the settlement issue lands."""

from __future__ import annotations

import strawberry

from domain.errors import NotAvailableYet
from schema.context import Ctx
from schema.errors import UserError
from schema.payloads import SimplePayload


def _not_yet(feature: str) -> SimplePayload:
    return SimplePayload.failed(UserError.of(NotAvailableYet(feature)))


async def confirm_receipt(info: Ctx, transaction_id: strawberry.ID) -> SimplePayload:
    return _not_yet("confirmReceipt")


async def open_dispute(
    info: Ctx, transaction_id: strawberry.ID, reason: str, message: str
) -> SimplePayload:
    return _not_yet("openDispute")


async def leave_feedback(
    info: Ctx, transaction_id: strawberry.ID, rating: int, comment: str | None = None
) -> SimplePayload:
    return _not_yet("leaveFeedback")
