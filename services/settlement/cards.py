"""Saving a buyer's card: a Stripe customer per user, a payment method attached to it
(or a SetupIntent the client confirms). Card data never reaches Gavel: only the ids."""

from __future__ import annotations

import re
import uuid

from domain.errors import ValidationFailed
from domain.payments import SetupIntentView
from services.deps import Deps
from services.settlement.common import audit, gateway
from storage.tables import User

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


async def save_payment_method(deps: Deps, viewer: User, payment_method_id: str) -> None:
    """Attach a payment method the client created (Stripe.js, or a SetupIntent's) to the
    viewer's customer and keep it for charging. Raises INVALID_INPUT (not a payment
    method id), PAYMENT_DECLINED (the card was refused on attaching)."""
    if not isinstance(payment_method_id, str) or not _PAYMENT_METHOD_ID.fullmatch(
        payment_method_id
    ):
        raise ValidationFailed(
            "paymentMethodId must be a Stripe payment method id (pm_...)",
            field="paymentMethodId",
        )
    customer_id = await ensure_customer(deps, viewer)
    saved = await gateway(deps).save_payment_method(
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        idempotency_key=f"user:{viewer.id}:pm:{payment_method_id}",
    )
    async with deps.uow() as uow:
        user = await uow.session.get(User, viewer.id, with_for_update=True)
        assert user is not None
        user.stripe_payment_method_id = saved
        audit(uow, viewer.id, "payment_method.saved", "user", viewer.id, deps.clock())
        await uow.commit()


async def create_setup_intent(deps: Deps, viewer: User) -> SetupIntentView:
    """A SetupIntent on the viewer's customer; the client confirms its client secret
    and then calls save_payment_method (or the setup_intent.succeeded webhook saves it)."""
    customer_id = await ensure_customer(deps, viewer)
    return await gateway(deps).create_setup_intent(
        customer_id=customer_id, idempotency_key=f"user:{viewer.id}:setup:{uuid.uuid4()}"
    )
