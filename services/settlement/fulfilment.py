"""Shipping and receipt: the seller ships, the buyer confirms, escrow is released.

Release (by `confirm_receipt`, the hold window lapsing in `run_due`, or a dispute
resolved RELEASE) captures the authorization if it is not captured yet, records the
seller payable minus the platform fee and the platform's revenue, and pays the seller
out through the gateway (a pending transfer where the gateway cannot transfer).
"""

from __future__ import annotations

import uuid

from sqlmodel import col, select

from domain.enums import DisputeStatus
from domain.errors import InvalidState, ValidationFailed
from domain.settlement import (
    OPEN_DISPUTES,
    check_action,
    check_shipped,
    check_shipping_window,
)
from domain.text import check_text
from services.deps import Deps
from services.settlement import steps
from services.settlement.common import (
    audit,
    notify,
    require_party,
    status_of,
    visible_transaction,
)
from storage.tables import Dispute, Transaction, User
from storage.uow import UnitOfWork

MAX_CARRIER = 64
MAX_TRACKING = 100


def _clean(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{field} is required", field=field)
    text = check_text(value.strip(), field)
    if len(text) > limit:
        raise ValidationFailed(f"{field} must be at most {limit} characters", field=field)
    return text


async def mark_shipped(
    deps: Deps,
    viewer: User,
    transaction_id: uuid.UUID | str,
    carrier: str,
    tracking_number: str,
) -> Transaction:
    """The seller ships a paid (AUTHORIZED or CAPTURED) sale within the shipping window
    (`SettlementPolicy.ship_by`: after it the worker refunds the buyer); the hold window
    before auto-release starts now. Errors: NOT_FOUND, FORBIDDEN (not the seller),
    INVALID_STATE (unpaid, settled, shipped already, past the shipping window, or a
    step such as the refund in progress), INVALID_INPUT (carrier,
    trackingNumber: required, one line, at most 64 / 100 characters)."""
    carrier = _clean(carrier, "carrier", MAX_CARRIER)
    tracking_number = _clean(tracking_number, "trackingNumber", MAX_TRACKING)
    now = deps.clock()
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=True)
        require_party(viewer, txn.seller_id, "seller")
        check_action("ship", status_of(txn))
        if txn.shipped_at is not None:
            raise InvalidState("the item is already marked shipped", field="transactionId")
        if txn.pending_step is not None:
            raise InvalidState(
                f"the transaction is being settled ({txn.pending_step})", field="transactionId"
            )
        assert txn.authorized_at is not None  # AUTHORIZED or CAPTURED
        check_shipping_window(deps.settlement_policy.ship_by(txn.authorized_at), now)
        txn.carrier, txn.tracking_number = carrier, tracking_number
        txn.shipped_at = now
        txn.release_after = deps.settlement_policy.release_after(now)
        txn.updated_at = now
        await notify(
            uow,
            txn,
            "ITEM_SHIPPED",
            f"Your item was shipped with {carrier}, tracking number {tracking_number}.",
            to=(txn.buyer_id,),
        )
        audit(uow, viewer.id, "transaction.shipped", "transaction", txn.id, now, carrier=carrier)
        await uow.commit()
    return txn


async def open_dispute_of(uow: UnitOfWork, txn_id: uuid.UUID) -> Dispute | None:
    dispute = (
        await uow.session.exec(select(Dispute).where(col(Dispute.transaction_id) == txn_id))
    ).first()
    if dispute is not None and DisputeStatus(dispute.status) in OPEN_DISPUTES:
        return dispute
    return None


async def confirm_receipt(deps: Deps, viewer: User, transaction_id: uuid.UUID | str) -> Transaction:
    """The buyer confirms receipt of a shipped item: escrow is released (captured first
    if need be). Errors: NOT_FOUND, FORBIDDEN (not the buyer), INVALID_STATE (unpaid,
    not shipped yet, settled, a dispute open, or a step in progress),
    PAYMENT_GATEWAY_UNAVAILABLE (the release is then finished by the worker)."""
    now = deps.clock()
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=True)
        require_party(viewer, txn.buyer_id, "buyer")
        check_action("confirm receipt", status_of(txn))
        check_shipped(txn.shipped_at)
        if await open_dispute_of(uow, txn.id) is not None:
            raise InvalidState(
                "a dispute is open: an admin decides where the money goes",
                field="transactionId",
            )
        steps.begin(txn, steps.RELEASE, now)
        txn.received_at = now
        audit(uow, viewer.id, "transaction.received", "transaction", txn.id, now)
        await uow.commit()
    return await steps.execute(deps, txn.id, now)
