"""The payment gateway port: what settlement needs from a card processor (SPEC section 7).

Gavel never sees card data. It stores only the gateway's customer, payment-method,
intent, refund and transfer ids. Every amount is integer minor units of `currency`
(ISO 4217, upper case here; adapters convert to the gateway's spelling).

Every call that creates or moves money takes an `idempotency_key` derived from the
transaction and the step (for example ``f"txn:{id}:capture"``), so a retry after a
crash between steps can never charge, capture, refund or pay out twice.

The Stripe adapter (adapters/stripe_gateway.py) implements this port with the official
SDK, against the localstripe emulator by default and real Stripe when a key is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from domain.errors import DomainError

GatewayMode = Literal["emulator", "stripe-test", "stripe-live"]

# Stripe's PaymentIntent statuses, which the port keeps as they are.
IntentStatus = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
]


class PaymentDeclined(DomainError):
    """The card was refused. `decline_code` is the gateway's reason (e.g. insufficient_funds)."""

    code = "PAYMENT_DECLINED"

    def __init__(self, message: str, *, decline_code: str | None = None):
        super().__init__(message)
        self.decline_code = decline_code


class GatewayUnavailable(DomainError):
    """The gateway could not be reached or answered 5xx; the step may be retried as is."""

    code = "PAYMENT_GATEWAY_UNAVAILABLE"


class GatewayRequestRejected(DomainError):
    """The gateway refused a well-formed call for what it asked (HTTP 4xx other than a
    decline): capturing a cancelled intent, refunding more than was captured, an
    idempotency key reused with other parameters. Retrying it unchanged fails again;
    `gateway_code` is the gateway's own code when it gave one."""

    code = "PAYMENT_GATEWAY_REJECTED"

    def __init__(self, message: str, *, gateway_code: str | None = None):
        super().__init__(message)
        self.gateway_code = gateway_code


class WebhookRejected(DomainError):
    """A webhook whose signature is missing, forged or older than the tolerance (HTTP 400)."""

    code = "WEBHOOK_REJECTED"


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: str


@dataclass(frozen=True, slots=True)
class SetupIntentView:
    """A SetupIntent: the client confirms `client_secret` to save a card on the customer."""

    id: str
    client_secret: str
    status: str
    payment_method_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentIntentView:
    """A PaymentIntent as the gateway reports it now.

    `amount_capturable` is what an authorization still holds (minor units);
    `capture_before` is when the authorization expires (the charge's `capture_before`,
    None when the gateway does not say); `last_error_code` is the decline code of the
    last failed attempt.
    """

    id: str
    status: IntentStatus
    amount: int
    currency: str
    amount_capturable: int = 0
    amount_received: int = 0
    client_secret: str | None = None
    capture_before: datetime | None = None
    last_error_code: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundView:
    id: str
    amount: int
    status: str


@dataclass(frozen=True, slots=True)
class TransferView:
    """A payout to a seller. `status` is "paid" on real Stripe Connect, "pending" when the
    gateway cannot transfer (the emulator): the ledger then keeps it as a pending payout."""

    id: str | None
    amount: int
    status: Literal["paid", "pending"]


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """A verified webhook event: `type` like "payment_intent.succeeded", `object` its data."""

    id: str
    type: str
    object: Mapping[str, Any]
    created: datetime


class PaymentGateway(Protocol):
    """Card processing as settlement uses it. Errors: PaymentDeclined, GatewayUnavailable."""

    @property
    def mode(self) -> GatewayMode: ...

    async def create_customer(
        self, *, email: str, user_id: str, idempotency_key: str
    ) -> CustomerRef: ...

    async def create_setup_intent(
        self, *, customer_id: str, idempotency_key: str
    ) -> SetupIntentView: ...

    async def attach_payment_method(
        self, *, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        """Attach a payment method the client created (by id) to the customer."""

    async def save_payment_method(
        self, *, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> str:
        """Attach a payment method to the customer and return the id to charge: the same
        id, except for Stripe's test tokens (`pm_card_visa`, ...), which become a new
        payment method on attaching. Raises PaymentDeclined when the card is refused."""

    async def authorize(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str,
        payment_method_id: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> PaymentIntentView:
        """Create a PaymentIntent with capture_method=manual. With a payment method it is
        confirmed at once (status requires_capture when the card is authorized; raises
        PaymentDeclined when refused); without one the client confirms `client_secret`."""

    async def retrieve_intent(self, intent_id: str) -> PaymentIntentView: ...

    async def capture(
        self, intent_id: str, *, amount: int | None, idempotency_key: str
    ) -> PaymentIntentView:
        """Capture an authorization (all of it when amount is None) into the platform's
        balance."""

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> PaymentIntentView:
        """Release an uncaptured authorization."""

    async def refund(
        self, intent_id: str, *, amount: int | None, idempotency_key: str
    ) -> RefundView:
        """Refund a captured intent, all of it when amount is None."""

    async def transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str | None,
        transfer_group: str,
        idempotency_key: str,
    ) -> TransferView:
        """Pay a seller out (separate charges and transfers). `destination` is the seller's
        connected account id; None, or a gateway without Connect, gives a pending transfer."""

    async def list_intents(
        self, *, limit: int = 100, customer_id: str | None = None
    ) -> list[PaymentIntentView]:
        """Recent intents, newest first (of one customer when `customer_id` is given), for
        reconciliation and for finding an intent a crash left unrecorded."""

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        """Verify a webhook's signature and age with the SDK; raises WebhookRejected."""
