"""Mutations of later issues (bidding, settlement) and the inbox."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.errors import NotAvailableYet, ValidationFailed
from schema.errors import UserError
from schema.payloads import SimplePayload
from schema.types import BidAccepted, BidRejected
from services import inbox

from .common import Ctx, as_payload, parse_id, viewer


async def place_bid(
    info: Ctx,
    auction_id: strawberry.ID,
    amount: Decimal,
    max_amount: Decimal | None = None,
    idempotency_key: str | None = None,
) -> BidAccepted | BidRejected:
    raise NotAvailableYet("placeBid")


async def buy_now(
    info: Ctx, auction_id: strawberry.ID, idempotency_key: str | None = None
) -> BidAccepted | BidRejected:
    raise NotAvailableYet("buyNow")


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
