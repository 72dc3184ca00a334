"""Payloads of the settlement mutations: the result, or `errors` saying why nothing
changed (payTransaction's PAYMENT_DECLINED also carries the sale it left FAILED)."""

from __future__ import annotations

import strawberry

from schema.errors import UserError
from schema.settlement_types import Dispute, Transaction


@strawberry.type
class TransactionPayload:
    transaction: Transaction | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> TransactionPayload:
        return cls(errors=[error])


@strawberry.type
class DisputePayload:
    dispute: Dispute | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> DisputePayload:
        return cls(errors=[error])


@strawberry.type
class SetupIntentPayload:
    setup_intent_id: str | None = None
    client_secret: str | None = strawberry.field(
        default=None,
        description="Confirm it with Stripe.js `confirmCardSetup` to save a card; then "
        "`savePaymentMethod` with the resulting payment method id.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> SetupIntentPayload:
        return cls(errors=[error])
