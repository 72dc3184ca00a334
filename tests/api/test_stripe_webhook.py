"""POST /webhooks/stripe over HTTP: the app's endpoint verifies every delivery with the
SDK (adapters/stripe_webhook.py), answers 400 WEBHOOK_REJECTED to a missing, forged or
stale signature without calling settlement, and 200 once settlement's handler took it.
One test has the emulator itself sign and deliver an event, so the emulator's signatures
are known to verify."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import Route

from adapters.stripe_gateway import StripeGateway
from adapters.stripe_webhook import stripe_webhook_endpoint
from devservers.localstripe import register_webhook
from domain.errors import InvalidState
from domain.payments import GatewayEvent, GatewayUnavailable
from tests.api.settlement_steps import DISPUTE, RESOLVE, codes, make_admin, paid, payload, read
from tests.helpers import STRIPE_WEBHOOK_SECRET, stripe_event, stripe_webhook_headers, test_card

URL = "/webhooks/stripe"


def event(event_id: str = "evt_test", *, amount: int = 100) -> bytes:
    intent = {"id": "pi_x", "object": "payment_intent", "amount": amount}
    return stripe_event("payment_intent.amount_capturable_updated", intent, event_id=event_id)


signed = stripe_webhook_headers


def assert_rejected(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "WEBHOOK_REJECTED"


async def test_a_signed_event_is_accepted(client: httpx.AsyncClient) -> None:
    payload = event()
    response = await client.post(URL, content=payload, headers=signed(payload))
    assert response.status_code == 200, response.text
    assert response.json()["received"] is True


async def test_a_missing_signature_is_rejected(client: httpx.AsyncClient) -> None:
    assert_rejected(await client.post(URL, content=event()))
    assert_rejected(await client.post(URL, content=event(), headers={"Stripe-Signature": ""}))


async def test_a_forged_signature_is_rejected(client: httpx.AsyncClient) -> None:
    payload = event()
    forged = signed(payload, secret="whsec_not_ours_" + "x" * 20)
    assert_rejected(await client.post(URL, content=payload, headers=forged))
    # A genuine signature over another body: the amount was changed in transit.
    assert_rejected(await client.post(URL, content=event(amount=1), headers=signed(payload)))


async def test_a_stale_or_replayed_late_delivery_is_rejected(client: httpx.AsyncClient) -> None:
    payload = event()
    late = signed(payload, at=int(time.time()) - 3600)
    assert_rejected(await client.post(URL, content=payload, headers=late))


async def test_a_webhook_needs_no_csrf_preflight(client: httpx.AsyncClient) -> None:
    # The CSRF guard is for browsers on /graphql; Stripe sends no preflight header.
    payload = event()
    headers = {**signed(payload), "Content-Type": "text/plain"}
    assert (await client.post(URL, content=payload, headers=headers)).status_code == 200


async def test_only_post_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 405


async def test_an_oversized_body_is_refused_before_verification(
    client: httpx.AsyncClient, settings
) -> None:
    payload = b"{" + b" " * settings.max_request_bytes + b"}"
    response = await client.post(URL, content=payload, headers=signed(payload))
    assert response.status_code == 413


@pytest.fixture
def recording_app(payment_gateway: StripeGateway) -> tuple[Starlette, list[GatewayEvent]]:
    seen: list[GatewayEvent] = []

    async def apply(verified: GatewayEvent) -> bool:
        if verified.id == "evt_unavailable":
            raise GatewayUnavailable("down")
        first = all(e.id != verified.id for e in seen)
        seen.append(verified)
        return first

    endpoint = stripe_webhook_endpoint(payment_gateway, apply)
    return Starlette(routes=[Route(URL, endpoint, methods=["POST"])]), seen


async def test_verified_events_reach_the_handler_and_rejected_ones_do_not(recording_app) -> None:
    app, seen = recording_app
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        payload = event("evt_once")
        first = await http.post(URL, content=payload, headers=signed(payload))
        again = await http.post(URL, content=payload, headers=signed(payload))  # redelivery
        assert first.json() == {"received": True, "applied": True}
        assert again.json() == {"received": True, "applied": False}
        forged = await http.post(
            URL, content=event("evt_forged"), headers={"Stripe-Signature": "t=1,v1=0"}
        )
        assert_rejected(forged)
        assert [e.id for e in seen] == ["evt_once", "evt_once"]
        assert seen[0].type == "payment_intent.amount_capturable_updated"
        assert seen[0].object["id"] == "pi_x"

        down = event("evt_unavailable")
        response = await http.post(URL, content=down, headers=signed(down))
        assert response.status_code == 503  # Stripe redelivers later
        assert response.json()["error"]["code"] == "PAYMENT_GATEWAY_UNAVAILABLE"


class _Capture(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str | None]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("Stripe-Signature")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[bytes, str | None]]]]:
    received: list[tuple[bytes, str | None]] = []
    handler = type("Capture", (_Capture,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


async def test_the_emulators_own_deliveries_verify(
    client: httpx.AsyncClient, payment_gateway: StripeGateway, webhook_receiver
) -> None:
    if payment_gateway.mode != "emulator":
        pytest.skip("Stripe's test mode delivers through `stripe listen`, not to us here")
    url, received = webhook_receiver
    await asyncio.to_thread(
        register_webhook, payment_gateway.api_base, url, STRIPE_WEBHOOK_SECRET, "test-capture"
    )
    try:
        customer = await payment_gateway.create_customer(
            email="hook@example.com", user_id="u", idempotency_key="hook-customer"
        )
        card = await test_card(payment_gateway, customer.id)
        intent = await payment_gateway.authorize(
            amount=4_200,
            currency="EUR",
            customer_id=customer.id,
            payment_method_id=card,
            metadata={},
            idempotency_key="hook-authorize",
        )
        await payment_gateway.capture(intent.id, amount=None, idempotency_key="hook-capture")
        deadline = time.monotonic() + 10  # the emulator waits 1 s before it delivers
        while time.monotonic() < deadline:
            mine = [r for r in received if intent.id.encode() in r[0]]
            if mine:
                break
            await asyncio.sleep(0.1)
        assert mine, "the emulator delivered nothing"
        body, signature = mine[0]
        verified = payment_gateway.verify_webhook(body, signature)
        assert verified.type == "payment_intent.succeeded"
        assert verified.object["id"] == intent.id
        response = await client.post(
            URL, content=body, headers={"Stripe-Signature": signature or ""}
        )
        assert response.status_code == 200, response.text
    finally:
        # Deliveries to a closed receiver only log a failure in the emulator.
        await asyncio.to_thread(
            register_webhook,
            payment_gateway.api_base,
            "http://127.0.0.1:9/unused",
            STRIPE_WEBHOOK_SECRET,
            "test-capture",
        )


MALFORMED_INTENTS = [
    {"id": "pi_malformed", "object": "payment_intent", "amount": "abc"},
    {"id": "pi_malformed", "object": "payment_intent", "amount_capturable": [1]},
    {"id": "pi_malformed", "object": "payment_intent", "amount_received": {"x": 1}},
    {"id": "pi_malformed", "object": "payment_intent", "amount": 1e300},
    {"id": "pi_malformed", "object": "payment_intent", "amount": -5},
    {"id": "pi_malformed", "object": "payment_intent", "amount": True},
    {"id": ["pi_malformed"], "object": "payment_intent"},
    {"id": "pi_malformed", "object": "payment_intent", "status": {"s": 1}},
    {"id": "pi_malformed", "object": "payment_intent", "status": "exploded"},
    {"id": "pi_malformed", "object": "payment_intent", "currency": 7},
]


@pytest.mark.parametrize("obj", MALFORMED_INTENTS)
@pytest.mark.parametrize(
    "kind", ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"]
)
async def test_a_signed_event_with_a_malformed_intent_is_ignored_not_a_500(
    client: httpx.AsyncClient, obj: dict[str, object], kind: str
) -> None:
    payload = stripe_event(kind, obj)
    response = await client.post(URL, content=payload, headers=signed(payload))
    assert response.status_code == 200, response.text
    # Recorded as processed: a redelivery is a duplicate, not another failure.
    again = await client.post(URL, content=payload, headers=signed(payload))
    assert again.json() == {"received": True, "applied": False}


async def test_a_signed_event_with_a_nan_amount_is_ignored_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    payload = (
        b'{"id": "evt_nan_%s", "object": "event", "type": "payment_intent.succeeded", '
        b'"created": %d, "data": {"object": {"id": "pi_nan", "amount": NaN}}}'
        % (uuid.uuid4().hex[:8].encode(), int(time.time()))
    )
    response = await client.post(URL, content=payload, headers=signed(payload))
    assert response.status_code == 200, response.text


async def test_a_refusal_from_the_handler_is_a_4xx_not_a_500(payment_gateway: StripeGateway):
    async def apply(verified: GatewayEvent) -> bool:
        raise InvalidState("nothing to do with this event")

    endpoint = stripe_webhook_endpoint(payment_gateway, apply)
    app = Starlette(routes=[Route(URL, endpoint, methods=["POST"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        payload = event("evt_refused")
        response = await http.post(URL, content=payload, headers=signed(payload))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_STATE"


async def test_a_cancel_event_on_a_disputed_sale_closes_the_dispute(gql, app, client) -> None:
    """The authorization vanishes while a dispute is open: the sale fails and its dispute
    is closed (nothing was captured), not left OPEN for an admin who cannot resolve it."""
    sale = await paid(gql, app)
    opened = await payload(
        gql,
        DISPUTE,
        {"id": sale.transaction_id, "reason": "Not shipped", "message": "m"},
        sale.buyer,
    )
    assert opened["errors"] == []
    async with app.state.engine.begin() as conn:
        intent = (
            await conn.execute(
                text("SELECT stripe_payment_intent_id FROM transactions WHERE id = :t"),
                {"t": sale.transaction_id},
            )
        ).scalar_one()
    body = stripe_event(
        "payment_intent.canceled", {"id": intent, "object": "payment_intent", "status": "canceled"}
    )
    response = await client.post(URL, content=body, headers=signed(body))
    assert response.status_code == 200
    txn = await read(gql, sale, sale.buyer)
    assert txn["status"] == "FAILED"
    assert txn["dispute"]["status"] == "RESOLVED_REFUND"
    admin = await make_admin(gql, app)
    again = await payload(
        gql, RESOLVE, {"id": txn["dispute"]["id"], "resolution": "RELEASE"}, admin
    )
    assert codes(again) == ["INVALID_STATE"]  # closed already: nothing left to decide
