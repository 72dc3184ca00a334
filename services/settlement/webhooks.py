"""Applying verified gateway events, each exactly once.

The event id is inserted into `processed_webhook_events` first, in the same database
transaction as its effect: a duplicate delivery finds the id and changes nothing, and
an effect that fails rolls the id back so the gateway's retry applies it. Events about
intents Gavel does not know, or types it does not act on, are recorded and ignored; so
is a signed event whose object is malformed (an amount that is not an integer, an id
that is not a string), with a warning: redelivering it would not make it well formed.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any, cast, get_args

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from domain.enums import TransactionStatus
from domain.errors import DomainError
from domain.payments import GatewayEvent, IntentStatus, PaymentIntentView
from services.deps import Deps
from services.settlement import steps
from services.settlement.common import status_of
from storage.tables import ProcessedWebhookEvent, Transaction, User
from storage.uow import UnitOfWork

log = logging.getLogger("gavel.settlement")


class MalformedEvent(ValueError):
    """A verified event whose object does not have the shape Stripe documents."""


def _amount(obj: Mapping[str, Any], name: str) -> int:
    """An amount field: a non-negative integer in minor units; absent counts as 0."""
    value = obj.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedEvent(f"{name} is not an amount in minor units")
    return value


def _text(obj: Mapping[str, Any], name: str, default: str) -> str:
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > 255:
        raise MalformedEvent(f"{name} is not a string")
    return value


def _status(obj: Mapping[str, Any]) -> IntentStatus:
    value = _text(obj, "status", "requires_payment_method")
    if value not in get_args(IntentStatus):
        raise MalformedEvent("status is not a PaymentIntent status")
    return cast(IntentStatus, value)


def _intent_of(obj: Mapping[str, Any]) -> PaymentIntentView:
    """The event's PaymentIntent object as the port's view (only what we read).
    Raises MalformedEvent when a field has the wrong type."""
    intent_id = obj.get("id")
    if not isinstance(intent_id, str) or not intent_id or len(intent_id) > 255:
        raise MalformedEvent("id is not a PaymentIntent id")
    return PaymentIntentView(
        id=intent_id,
        status=_status(obj),
        amount=_amount(obj, "amount"),
        currency=_text(obj, "currency", "").upper(),
        amount_capturable=_amount(obj, "amount_capturable"),
        amount_received=_amount(obj, "amount_received"),
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
    (the client confirmed). payment_intent.payment_failed: PENDING -> FAILED (a decline:
    an unpaid strike, and the intent, still confirmable, is cancelled).
    payment_intent.canceled: an AUTHORIZED sale whose hold vanished -> FAILED.
    payment_intent.succeeded: an AUTHORIZED sale -> CAPTURED. setup_intent.succeeded:
    the customer's payment method is saved for charging. A sale whose own step is in
    progress is left to that step, which asks the gateway itself. A sale failed here has
    its intent cancelled right after (a `cancel` step; the worker resumes it if the
    gateway is unreachable now).
    """
    now = deps.clock()
    follow_up: uuid.UUID | None = None
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
        try:
            if event.type.startswith("payment_intent."):
                follow_up = await _apply_intent_event(deps, uow, event.type, _intent_of(obj))
            elif event.type == "setup_intent.succeeded":
                await _save_setup_method(uow, obj)
        except MalformedEvent as err:
            log.warning("stripe event %s (%s) ignored: %s", event.id[:100], event.type[:100], err)
        await uow.commit()
    if follow_up is not None:
        with contextlib.suppress(DomainError):  # the event is applied; the worker resumes
            await steps.execute(deps, follow_up)
    return True


async def _apply_intent_event(
    deps: Deps, uow: UnitOfWork, kind: str, intent: PaymentIntentView
) -> uuid.UUID | None:
    """Apply an intent event; the sale's id when it began a step to run after commit."""
    txn = await _sale_of_intent(uow, intent.id)
    if txn is None or txn.pending_step is not None:
        return None
    now = deps.clock()
    status = status_of(txn)
    if kind in ("payment_intent.amount_capturable_updated", "payment_intent.requires_capture"):
        if status is TransactionStatus.PENDING and intent.amount_capturable >= txn.amount:
            await steps.mark_authorized(deps, uow, txn, intent, now)
    elif kind == "payment_intent.payment_failed":
        if status is TransactionStatus.PENDING:
            # The intent stays confirmable after a decline: mark_failed cancels it.
            await steps.mark_failed(uow, txn, "card declined", now, strike=True)
    elif kind == "payment_intent.canceled":
        if status in (TransactionStatus.PENDING, TransactionStatus.AUTHORIZED):
            await steps.mark_failed(
                uow, txn, "payment cancelled at the gateway", now, intent_status="canceled"
            )
    elif kind == "payment_intent.succeeded":
        if status is TransactionStatus.PENDING:
            await steps.mark_authorized(deps, uow, txn, intent, now)
            status = TransactionStatus.AUTHORIZED
        if status is TransactionStatus.AUTHORIZED:
            txn.status = TransactionStatus.CAPTURED.value
            txn.captured_at = now
    txn.updated_at = now
    return txn.id if txn.pending_step is not None else None


async def _save_setup_method(uow: UnitOfWork, obj: Mapping[str, Any]) -> None:
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
