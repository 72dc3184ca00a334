"""The payment gateway port (domain/payments.py) on the official Stripe SDK.

`build_gateway(settings)` is what the composition root calls. Without STRIPE_API_KEY it
talks to the localstripe emulator (mode "emulator"; devservers/localstripe.py starts it
at STRIPE_API_BASE, else 127.0.0.1:GAVEL_STRIPE_EMULATOR_PORT); with an `sk_test_`/
`rk_test_` key to Stripe's test mode ("stripe-test"), with `sk_live_`/`rk_live_` to live
Stripe ("stripe-live"). Every call is async (`StripeClient(...).v1.<resource>.*_async`
over httpx).

Conversions: amounts stay integer minor units; currencies go to Stripe lower case and
come back upper case. Errors: a card refusal (HTTP 402, `CardError`) raises
`PaymentDeclined(decline_code=...)` (Stripe's `decline_code`, else its `code`); no
connection, a timeout, 429 or a 5xx raise `GatewayUnavailable` (retry the same step with
the same key); any other 4xx `GatewayRequestRejected`. Every call that creates or moves
money sends the caller's `idempotency_key` as Stripe's `Idempotency-Key`, and the SDK's
own network retries reuse it.

What the emulator (localstripe 1.15.10) does, and what Gavel does about it:
- Idempotency: localstripe ignores `Idempotency-Key`. Our launcher adds Stripe's replay
  behaviour in front of it (devservers/localstripe.py), in memory for its lifetime; a
  restarted emulator forgets keys, so settlement records each step before repeating it
  (its own guard, needed against real Stripe too: Stripe keeps keys 24 hours).
- `capture_before`: absent; `PaymentIntentView.capture_before` is then None, and
  settlement falls back on its authorization-lifetime setting. Against Stripe it is read
  from the charge (`latest_charge.payment_method_details.card.capture_before`).
- Connect transfers: absent. `transfer` in emulator mode (or without a destination
  account) calls nothing and returns status "pending": the ledger keeps a pending payout.
- Declining cards: `4000000000000341` / `pm_card_chargeCustomerFail` attaches and is
  declined when charged; `4000000000000002` is refused when attached (both as on Stripe).
- API key: any `sk_...` is accepted; the adapter sends `sk_test_emulator`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

import stripe

from domain.payments import (
    CustomerRef,
    GatewayEvent,
    GatewayMode,
    GatewayRequestRejected,
    GatewayUnavailable,
    IntentStatus,
    PaymentDeclined,
    PaymentGateway,
    PaymentIntentView,
    RefundView,
    SetupIntentView,
    TransferView,
    WebhookRejected,
)
from settings import Settings

log = logging.getLogger(__name__)

# localstripe accepts any key shaped like a secret key; this one says where it goes.
EMULATOR_API_KEY = "sk_test_emulator"
# The SDK retries a failed connection or a 409/5xx with the same idempotency key.
NETWORK_RETRIES = 2
_INTENT_EXPAND = ["latest_charge"]
_MODES: dict[str, GatewayMode] = {
    "sk_test_": "stripe-test",
    "rk_test_": "stripe-test",
    "sk_live_": "stripe-live",
    "rk_live_": "stripe-live",
}


def gateway_mode(api_key: str | None) -> GatewayMode:
    """ "emulator" without a key, else Stripe's mode by the key's prefix; ValueError for a
    key that is neither a test nor a live secret (or restricted) key."""
    if not api_key:
        return "emulator"
    for prefix, mode in _MODES.items():
        if api_key.startswith(prefix):
            return mode
    raise ValueError("STRIPE_API_KEY must be a secret key: sk_test_..., sk_live_... (or rk_)")


def emulator_base(settings: Settings) -> str:
    """Where the emulator listens when STRIPE_API_BASE does not say."""
    return f"http://127.0.0.1:{settings.stripe_emulator_port}"


def build_gateway(settings: Settings) -> StripeGateway:
    """The gateway for these settings (composition root). Makes no network call; close it
    with `aclose()` at shutdown."""
    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else None
    mode = gateway_mode(key)
    base = settings.stripe_api_base or (emulator_base(settings) if mode == "emulator" else None)
    secret = settings.stripe_webhook_secret
    return StripeGateway(
        api_key=key or EMULATOR_API_KEY,
        mode=mode,
        api_base=base,
        webhook_secret=secret.get_secret_value() if secret else None,
        webhook_tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        timeout_seconds=settings.stripe_timeout_seconds,
    )


class StripeGateway:
    """`PaymentGateway` on `stripe.StripeClient`. `client` is the SDK client, for tests
    and tools that need a call the port does not offer."""

    def __init__(
        self,
        *,
        api_key: str,
        mode: GatewayMode,
        api_base: str | None = None,
        webhook_secret: str | None = None,
        webhook_tolerance_seconds: int = 300,
        timeout_seconds: float = 20.0,
    ) -> None:
        self._mode: GatewayMode = mode
        self._webhook_secret = webhook_secret
        self._tolerance = webhook_tolerance_seconds
        self.api_base = api_base or stripe.DEFAULT_API_BASE
        self._http = stripe.HTTPXClient(timeout=timeout_seconds)
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": self.api_base},
            http_client=self._http,
            max_network_retries=NETWORK_RETRIES,
        )

    @property
    def mode(self) -> GatewayMode:
        return self._mode

    async def aclose(self) -> None:
        """Close the HTTP connections (app shutdown)."""
        await self._http.close_async()  # type: ignore[no-untyped-call]  # stripe 16.1

    # --- customers and cards ------------------------------------------------------------

    async def create_customer(
        self, *, email: str, user_id: str, idempotency_key: str
    ) -> CustomerRef:
        customer = await _call(
            self.client.v1.customers.create_async(
                params={"email": email, "metadata": {"user_id": user_id}},
                options={"idempotency_key": idempotency_key},
            )
        )
        return CustomerRef(id=customer.id)

    async def create_setup_intent(
        self, *, customer_id: str, idempotency_key: str
    ) -> SetupIntentView:
        params: dict[str, Any] = {
            "customer": customer_id,
            "payment_method_types": ["card"],
            "usage": "off_session",
        }
        intent = _plain(
            await _call(
                self.client.v1.setup_intents.create_async(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": idempotency_key},
                )
            )
        )
        return SetupIntentView(
            id=intent["id"],
            client_secret=intent["client_secret"],
            status=intent["status"],
            payment_method_id=_id_of(intent.get("payment_method")),
        )

    async def attach_payment_method(
        self, *, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        await self.save_payment_method(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            idempotency_key=idempotency_key,
        )

    async def save_payment_method(
        self, *, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> str:
        method = await _call(
            self.client.v1.payment_methods.attach_async(
                payment_method_id,
                params={"customer": customer_id},
                options={"idempotency_key": idempotency_key},
            )
        )
        return str(method.id)

    # --- payments ------------------------------------------------------------------------

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
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_id,
            "capture_method": "manual",
            "payment_method_types": ["card"],
            "metadata": dict(metadata),
            "expand": _INTENT_EXPAND,
        }
        if payment_method_id is not None:
            params |= {"payment_method": payment_method_id, "confirm": True}
        intent = await _call(
            self.client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        return intent_view(_plain(intent))

    async def retrieve_intent(self, intent_id: str) -> PaymentIntentView:
        intent = await _call(
            self.client.v1.payment_intents.retrieve_async(
                intent_id, params={"expand": _INTENT_EXPAND}
            )
        )
        return intent_view(_plain(intent))

    async def capture(
        self, intent_id: str, *, amount: int | None, idempotency_key: str
    ) -> PaymentIntentView:
        params: dict[str, Any] = {"expand": _INTENT_EXPAND}
        if amount is not None:
            params["amount_to_capture"] = amount
        intent = await _call(
            self.client.v1.payment_intents.capture_async(
                intent_id,
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        return intent_view(_plain(intent))

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> PaymentIntentView:
        intent = await _call(
            self.client.v1.payment_intents.cancel_async(
                intent_id,
                params={"expand": _INTENT_EXPAND},
                options={"idempotency_key": idempotency_key},
            )
        )
        return intent_view(_plain(intent))

    async def refund(
        self, intent_id: str, *, amount: int | None, idempotency_key: str
    ) -> RefundView:
        params: dict[str, Any] = {"payment_intent": intent_id}
        if amount is not None:
            params["amount"] = amount
        refund = _plain(
            await _call(
                self.client.v1.refunds.create_async(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": idempotency_key},
                )
            )
        )
        return RefundView(id=refund["id"], amount=int(refund["amount"]), status=refund["status"])

    async def transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str | None,
        transfer_group: str,
        idempotency_key: str,
    ) -> TransferView:
        if self._mode == "emulator" or destination is None:
            # No Connect here (or no account to pay yet): the ledger keeps it pending.
            return TransferView(id=None, amount=amount, status="pending")
        transfer = await _call(
            self.client.v1.transfers.create_async(
                params={
                    "amount": amount,
                    "currency": currency.lower(),
                    "destination": destination,
                    "transfer_group": transfer_group,
                },
                options={"idempotency_key": idempotency_key},
            )
        )
        return TransferView(id=transfer.id, amount=int(transfer.amount), status="paid")

    async def list_intents(
        self, *, limit: int = 100, customer_id: str | None = None
    ) -> list[PaymentIntentView]:
        views: list[PaymentIntentView] = []
        after: str | None = None
        while len(views) < limit:
            params: dict[str, Any] = {
                "limit": min(100, limit - len(views)),
                "expand": ["data.latest_charge"],
            }
            if customer_id is not None:
                params["customer"] = customer_id
            if after is not None:
                params["starting_after"] = after
            page = _plain(
                await _call(
                    self.client.v1.payment_intents.list_async(
                        params=params  # type: ignore[arg-type]
                    )
                )
            )
            views += [intent_view(item) for item in page["data"]]
            if not page.get("has_more") or not page["data"]:
                break
            after = page["data"][-1]["id"]
        return views

    # --- webhooks ------------------------------------------------------------------------

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        """The SDK checks the `Stripe-Signature` HMAC against STRIPE_WEBHOOK_SECRET and the
        timestamp against the tolerance; a timestamp further ahead than the tolerance is
        refused too (a clock that far off is not Stripe's)."""
        if not self._webhook_secret:
            raise WebhookRejected("no webhook secret is configured (STRIPE_WEBHOOK_SECRET)")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, self._webhook_secret, self._tolerance
            )
            signed_at = stripe.WebhookSignature._get_timestamp_and_signatures(
                signature_header or "", stripe.WebhookSignature.EXPECTED_SCHEME
            )[0]
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as err:
            raise WebhookRejected(f"webhook refused: {err}") from None
        if signed_at > time.time() + self._tolerance:
            raise WebhookRejected("webhook refused: signed in the future")
        try:
            return GatewayEvent(
                id=str(event["id"]),
                type=str(event["type"]),
                object=dict(event["data"]["object"]),
                created=datetime.fromtimestamp(int(event["created"]), UTC),
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            raise WebhookRejected("webhook refused: not a Stripe event") from None


def _implements_the_port(gateway: StripeGateway) -> PaymentGateway:
    return gateway  # mypy checks here that StripeGateway matches the port


def intent_view(intent: Mapping[str, Any]) -> PaymentIntentView:
    """A PaymentIntent (as a plain dict, `latest_charge` expanded or an id) as the port's
    view. Amounts Stripe leaves out (the emulator's older shape) count as 0."""
    charge = intent.get("latest_charge")
    charge = charge if isinstance(charge, Mapping) else {}
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    deadline = card.get("capture_before")
    error = intent.get("last_payment_error") or {}
    status: IntentStatus = intent["status"]
    return PaymentIntentView(
        id=intent["id"],
        status=status,
        amount=int(intent["amount"]),
        currency=str(intent["currency"]).upper(),
        amount_capturable=int(intent.get("amount_capturable") or 0),
        amount_received=int(intent.get("amount_received") or 0),
        client_secret=intent.get("client_secret"),
        capture_before=datetime.fromtimestamp(int(deadline), UTC) if deadline else None,
        last_error_code=error.get("decline_code") or error.get("code"),
        metadata={str(k): str(v) for k, v in (intent.get("metadata") or {}).items()},
    )


def _plain(obj: Any) -> dict[str, Any]:
    """An SDK object as plain dicts and lists (StripeObject is no longer a dict)."""
    data: dict[str, Any] = obj.to_dict()
    return data


def _id_of(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value["id"])


async def _call(pending: Any) -> Any:
    """Await an SDK call, turning Stripe's errors into the port's."""
    try:
        return await pending
    except stripe.CardError as err:
        error = err.error
        code = (error.decline_code if error else None) or err.code
        raise PaymentDeclined(
            err.user_message or "the card was declined", decline_code=code
        ) from None
    except (stripe.APIConnectionError, stripe.RateLimitError) as err:
        _unavailable(err)
    except stripe.StripeError as err:
        if err.http_status is None or err.http_status >= 500:
            _unavailable(err)
        if err.http_status in (401, 403):
            # Our configuration, not the caller's request: nothing to retry from here.
            log.error("Stripe refused the API key: %s", err.user_message)
            _unavailable(err)
        raise GatewayRequestRejected(
            err.user_message or "the payment gateway refused the request", gateway_code=err.code
        ) from None


def _unavailable(err: stripe.StripeError) -> NoReturn:
    log.warning("payment gateway unavailable: %s", type(err).__name__)
    raise GatewayUnavailable("the payment gateway is unavailable; try again") from None
