"""`POST /webhooks/stripe`: Stripe's (or the emulator's) event deliveries, verified.

The `Stripe-Signature` header is checked by the gateway with the SDK (HMAC-SHA256 of the
raw body with STRIPE_WEBHOOK_SECRET, timestamp within
GAVEL_STRIPE_WEBHOOK_TOLERANCE_SECONDS). A missing, forged or stale signature, or a
signed body that is not an event, answers 400 `{"error": {"code": "WEBHOOK_REJECTED"}}`
and changes nothing. A verified event goes to settlement's exactly-once handler `apply`
(True: applied now; False: seen before or of no interest) and answers 200 either way, so
Stripe stops redelivering (a signed event with a malformed object is recorded and
ignored by `apply`, with a warning). If the handler cannot reach the gateway it answers
503 and Stripe redelivers later (`apply` is idempotent); any other refusal the handler
raises (a DomainError) answers 400 with its code, never a 500.

No CSRF guard applies (adapters/csrf.py guards /graphql): webhooks carry no cookies and
the signature is the protection. The body is bounded by GAVEL_MAX_REQUEST_BYTES like
every other body (adapters/body_limit.py, 413).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

from domain.errors import DomainError
from domain.payments import GatewayEvent, GatewayUnavailable, PaymentGateway, WebhookRejected

log = logging.getLogger(__name__)

ApplyEvent = Callable[[GatewayEvent], Awaitable[bool]]
SIGNATURE_HEADER = "stripe-signature"


def stripe_webhook_endpoint(
    gateway: PaymentGateway, apply: ApplyEvent
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A Starlette endpoint (mount it for POST) verifying each delivery with `gateway` and
    handing the event to `apply`."""

    async def endpoint(request: Request) -> JSONResponse:
        payload = await request.body()
        try:
            event = gateway.verify_webhook(payload, request.headers.get(SIGNATURE_HEADER))
        except WebhookRejected as err:
            log.warning("stripe webhook rejected: %s", err.message)
            return JSONResponse(
                {"error": {"code": WebhookRejected.code, "message": err.message}}, 400
            )
        try:
            applied = await apply(event)
        except GatewayUnavailable as err:
            return JSONResponse({"error": {"code": err.code, "message": err.message}}, 503)
        except DomainError as err:
            log.warning("stripe webhook %s %s refused: %s", event.id, event.type, err.message)
            return JSONResponse({"error": {"code": err.code, "message": err.message}}, 400)
        log.info("stripe webhook %s %s applied=%s", event.id, event.type, applied)
        return JSONResponse({"received": True, "applied": applied})

    return endpoint
