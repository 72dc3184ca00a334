"""Applying verified gateway events, each exactly once.

The event id is inserted into `processed_webhook_events` first, in the same database
transaction as its effect: a duplicate delivery finds the id and changes nothing, and
an effect that fails rolls the id back so the gateway's retry applies it. Events about
intents Gavel does not know, or types it does not act on, are recorded and ignored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from domain.enums import TransactionStatus
from domain.payments import GatewayEvent, PaymentIntentView
from services.deps import Deps
from services.settlement import steps
from services.settlement.common import status_of
from storage.tables import ProcessedWebhookEvent, Transaction, User
from storage.uow import UnitOfWork


def _intent_of(obj: Any) -> PaymentIntentView:
    """The event's PaymentIntent object as the port's view (only what we read)."""
    return PaymentIntentView(
        id=str(obj.get("id")),
        status=obj.get("status") or "requires_payment_method",
        amount=int(obj.get("amount") or 0),
        currency=str(obj.get("currency") or "").upper(),
        amount_capturable=int(obj.get("amount_capturable") or 0),
        amount_received=int(obj.get("amount_received") or 0),
    )


async def _sale_of_intent(uow: UnitOfWork, intent_id: str) -> Transaction | None:
    return (
        await uow.session.exec(
            select(Transaction)
            .where(col(Transaction.stripe_payment_intent_id) == intent_id)
            .with_for_update()
        )
    ).first()


async def apply_gateway_event(deps: Deps, event: GatewayEvent) -> bool:
    """Apply a verified event once; False when it was applied before (a duplicate).

    payment_intent.amount_capturable_updated / .requires_capture: PENDING -> AUTHORIZED
    (the client confirmed). payment_intent.payment_failed: PENDING -> FAILED.
    payment_intent.canceled: an AUTHORIZED sale whose hold vanished -> FAILED.
    payment_intent.succeeded: an AUTHORIZED sale -> CAPTURED. setup_intent.succeeded:
    the customer's payment method is saved for charging. A sale whose own step is in
    progress is left to that step, which asks the gateway itself.
    """
    now = deps.clock()
    async with deps.uow() as uow:
        fresh = (
            await uow.session.exec(
                insert(ProcessedWebhookEvent)
                .values(event_id=event.id[:100], type=event.type[:100], processed_at=now)
                .on_conflict_do_nothing()
                .returning(col(ProcessedWebhookEvent.event_id))
            )
        ).first()
        if fresh is None:
            return False
        obj = event.object
        if event.type.startswith("payment_intent."):
            await _apply_intent_event(deps, uow, event.type, _intent_of(obj))
        elif event.type == "setup_intent.succeeded":
            await _save_setup_method(uow, obj)
        await uow.commit()
    return True


async def _apply_intent_event(
    deps: Deps, uow: UnitOfWork, kind: str, intent: PaymentIntentView
) -> None:
    txn = await _sale_of_intent(uow, intent.id)
    if txn is None or txn.pending_step is not None:
        return
    now = deps.clock()
    status = status_of(txn)
    if kind in ("payment_intent.amount_capturable_updated", "payment_intent.requires_capture"):
        if status is TransactionStatus.PENDING and intent.amount_capturable >= txn.amount:
            await steps.mark_authorized(deps, uow, txn, intent, now)
    elif kind == "payment_intent.payment_failed":
        if status is TransactionStatus.PENDING:
            await steps.mark_failed(uow, txn, "card declined", now)
    elif kind == "payment_intent.canceled":
        if status in (TransactionStatus.PENDING, TransactionStatus.AUTHORIZED):
            await steps.mark_failed(uow, txn, "payment cancelled at the gateway", now)
    elif kind == "payment_intent.succeeded":
        if status is TransactionStatus.PENDING:
            await steps.mark_authorized(deps, uow, txn, intent, now)
            status = TransactionStatus.AUTHORIZED
        if status is TransactionStatus.AUTHORIZED:
            txn.status = TransactionStatus.CAPTURED.value
            txn.captured_at = now
    txn.updated_at = now


async def _save_setup_method(uow: UnitOfWork, obj: Any) -> None:
    customer, method = obj.get("customer"), obj.get("payment_method")
    if not isinstance(customer, str) or not isinstance(method, str):
        return
    user = (
        await uow.session.exec(
            select(User).where(col(User.stripe_customer_id) == customer).with_for_update()
        )
    ).first()
    if user is not None:
        user.stripe_payment_method_id = method
