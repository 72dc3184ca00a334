"""Saving a buyer's card: a Stripe customer per user, a payment method attached to it
(or a SetupIntent the client confirms). Card data never reaches Gavel: only the ids."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from domain.errors import ValidationFailed
from domain.payments import SetupIntentView
from services.deps import Deps
from services.settlement.common import audit, gateway
from storage.tables import Transaction, User

# Stripe ids of payment methods (and its test tokens such as pm_card_visa).
_PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,100}")


async def ensure_customer(deps: Deps, viewer: User) -> str:
    """The viewer's Stripe customer id, created once (key per user, so two concurrent
    calls get the same customer)."""
    async with deps.uow() as uow:
        user = await uow.session.get(User, viewer.id)
        assert user is not None
        if user.stripe_customer_id:
            return user.stripe_customer_id
    ref = await gateway(deps).create_customer(
        email=user.email, user_id=str(user.id), idempotency_key=f"user:{user.id}:customer"
    )
    async with deps.uow() as uow:
        user = await uow.session.get(User, viewer.id, with_for_update=True)
        assert user is not None
        if not user.stripe_customer_id:
            user.stripe_customer_id = ref.id
            await uow.commit()
        return user.stripe_customer_id or ref.id


def _anothers() -> ValidationFailed:
    return ValidationFailed(
        "this payment method belongs to another account", field="paymentMethodId"
    )


async def _refuse_if_anothers(deps: Deps, viewer: User, payment_method_id: str) -> None:
    """A payment method another user saved or paid with is theirs: real Stripe refuses to
    attach it elsewhere, the emulator does not, and Gavel must not rely on either."""
    async with deps.uow() as uow:
        theirs = (
            await uow.session.exec(
                select(User.id).where(
                    col(User.stripe_payment_method_id) == payment_method_id,
                    col(User.id) != viewer.id,
                )
            )
        ).first() or (
            await uow.session.exec(
                select(Transaction.id).where(
                    col(Transaction.payment_method_id) == payment_method_id,
                    col(Transaction.buyer_id) != viewer.id,
                )
            )
        ).first()
    if theirs is not None:
        raise _anothers()


async def save_payment_method(deps: Deps, viewer: User, payment_method_id: str) -> None:
    """Attach a payment method the client created (Stripe.js, or a SetupIntent's) to the
    viewer's customer and keep it for charging. Raises INVALID_INPUT (not a payment
    method id, or one another user saved or paid with: nothing is attached then),
    RATE_LIMITED (the viewer's card or payment budget is spent: services/limits.py;
    nothing is called then), PAYMENT_DECLINED (the card was refused on attaching)."""
    if not isinstance(payment_method_id, str) or not _PAYMENT_METHOD_ID.fullmatch(
        payment_method_id
    ):
        raise ValidationFailed(
            "paymentMethodId must be a Stripe payment method id (pm_...)",
            field="paymentMethodId",
        )
    await _refuse_if_anothers(deps, viewer, payment_method_id)
    await deps.throttle.card(viewer.id)  # attaching makes Stripe check the card
    customer_id = await ensure_customer(deps, viewer)
    saved = await gateway(deps).save_payment_method(
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        idempotency_key=f"user:{viewer.id}:pm:{payment_method_id}",
    )
    await _refuse_if_anothers(deps, viewer, saved)
    async with deps.uow() as uow:
        user = await uow.session.get(User, viewer.id, with_for_update=True)
        assert user is not None
        had_card = user.stripe_payment_method_id is not None
        user.stripe_payment_method_id = saved
        audit(
            uow,
            viewer.id,
            "payment_method.saved",
            "user",
            viewer.id,
            deps.clock(),
            # Whether a card was on file, never the payment method ids themselves.
            before={"card_on_file": had_card},
            after={"card_on_file": True},
        )
        try:
            await uow.commit()
        except IntegrityError:  # uq_users_payment_method: saved by another meanwhile
            raise _anothers() from None


async def create_setup_intent(deps: Deps, viewer: User) -> SetupIntentView:
    """A SetupIntent on the viewer's customer; the client confirms its client secret
    and then calls save_payment_method (or the setup_intent.succeeded webhook saves it).
    Raises RATE_LIMITED (card or payment budget spent: nothing is created)."""
    await deps.throttle.card(viewer.id)
    customer_id = await ensure_customer(deps, viewer)
    return await gateway(deps).create_setup_intent(
        customer_id=customer_id, idempotency_key=f"user:{viewer.id}:setup:{uuid.uuid4()}"
    )
