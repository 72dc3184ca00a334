"""Steps the gateway refuses (HTTP 4xx) and sales that fail (docs/settlement.md
"Refused steps" and "Failed sales"), against the Stripe emulator through the real SDK.

Live Stripe refuses calls the emulator takes (USD above 999,999.99 per charge, three-
decimal currencies whose amount does not end in 0): a gateway wrapper refuses them the
way Stripe does (GatewayRequestRejected), the rest of each call reaching the emulator.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import stripe
from sqlmodel import col, select

from domain.enums import DisputeStatus
from domain.errors import InvalidState
from domain.payments import GatewayEvent, GatewayRequestRejected
from services import settlement
from services.deps import Deps
from storage.tables import Dispute, User
from tests.helpers import stripe_event, stripe_webhook_headers, test_card
from tests.integration.settlement_kit import (
    DECLINING_CARD,
    audit_actions,
    balances,
    clock,
    deps,
    deps_with,
    ledger_sums,
    make_user,
    notifications_of,
    reload,
    settle_app,
    sold_auction,
    start,
    with_card,
)

__all__ = ["clock", "deps", "settle_app"]


class Refusing:
    """The real emulator gateway, except that `method` is refused like live Stripe
    refuses it (HTTP 400) when `when(**kwargs)` says so."""

    def __init__(self, real: Any, method: str, when: Any = None) -> None:
        self._real, self._method, self._when = real, method, when
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        async def refused(*args: Any, **kwargs: Any) -> Any:
            if self._when is None or self._when(*args, **kwargs):
                self.refused += 1
                raise GatewayRequestRejected("Invalid amount", gateway_code="invalid_amount")
            return await attr(*args, **kwargs)

        return refused


async def strikes_of(deps: Deps, user: User) -> int:
    async with deps.uow() as uow:
        row = await uow.session.get(User, user.id)
        assert row is not None
        return row.unpaid_strikes


async def dispute_of(deps: Deps, dispute_id: uuid.UUID) -> Dispute:
    async with deps.uow() as uow:
        row = await uow.session.get(Dispute, dispute_id)
        assert row is not None
        return row


async def test_a_refused_authorization_fails_the_sale_with_a_strike_not_a_step_forever(
    settle_app, payment_gateway, clock
):
    refusing = Refusing(payment_gateway, "authorize")
    deps = deps_with(settle_app, clock, payments=refusing)
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await make_user(deps)
    # 1,000,000.00 USD: Gavel takes it, live Stripe refuses more than 999,999.99.
    txn = await start(deps, await sold_auction(deps, seller, buyer, 100_000_000))
    await with_card(deps, buyer)
    with pytest.raises(GatewayRequestRejected):
        await settlement.pay(deps, buyer, txn.id)
    row = await reload(deps, txn.id)
    assert (row.status, row.pending_step) == ("FAILED", None)
    assert row.failure_reason is not None and "refused" in row.failure_reason
    assert await strikes_of(deps, buyer) == 1
    for _ in range(3):  # the worker does not try it again
        clock.advance(timedelta(days=2))
        report = await settlement.run_due(deps)
        assert report.errors == []
    assert refusing.refused == 1
    assert (await reload(deps, txn.id)).pending_step is None
    assert "transaction.failed" in await audit_actions(deps, txn.id)
    assert await ledger_sums(deps, txn.id) == 0


@pytest.mark.parametrize("answered", [False, True])
async def test_a_refused_partial_refund_reopens_the_dispute_for_a_new_decision(
    settle_app, payment_gateway, clock, answered
):
    three_decimals = Refusing(
        payment_gateway, "refund", when=lambda *a, amount, **k: amount is not None and amount % 10
    )
    deps = deps_with(settle_app, clock, payments=three_decimals)
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    admin = await make_user(deps, "BIDDER", "ADMIN")
    txn = await start(deps, await sold_auction(deps, seller, buyer, 12_340, currency="BHD"))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Broken", "m")
    if answered:
        await settlement.respond_to_dispute(deps, seller, dispute.id, "It was fine")
    with pytest.raises(GatewayRequestRejected):
        await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_PARTIAL", 5)
    row = await reload(deps, txn.id)
    # Captured before the refund was refused: the row says what the gateway says.
    assert (row.status, row.pending_step) == ("CAPTURED", None)
    reopened = await dispute_of(deps, dispute.id)
    expected = DisputeStatus.SELLER_RESPONDED if answered else DisputeStatus.OPEN
    assert (reopened.status, reopened.resolution, reopened.refund_amount) == (
        expected.value,
        None,
        None,
    )
    actions = await audit_actions(deps, dispute.id)
    assert "dispute.resolution_refused" in actions
    for party in (buyer, seller):
        assert "DISPUTE_REOPENED" in await notifications_of(deps, party)
    assert "transaction.step_refused" in await audit_actions(deps, txn.id)
    # The admin decides again with an amount the gateway takes.
    await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_PARTIAL", 10)
    done = await reload(deps, txn.id)
    assert (done.status, done.pending_step, done.refunded_amount) == ("RELEASED", None, 10)
    assert (await balances(deps, txn.id)).get("escrow", 0) == 0
    assert await ledger_sums(deps, txn.id) == 0


async def test_a_refused_full_refund_leaves_the_sale_held_and_the_dispute_open(
    settle_app, payment_gateway, clock
):
    refusing = Refusing(payment_gateway, "refund")
    deps = deps_with(settle_app, clock, payments=refusing)
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    admin = await make_user(deps, "BIDDER", "ADMIN")
    txn = await start(deps, await sold_auction(deps, seller, buyer, 5_000))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    await payment_gateway.capture(
        txn.stripe_payment_intent_id, amount=None, idempotency_key=f"t:{txn.id}"
    )
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Broken", "m")
    with pytest.raises(GatewayRequestRejected):
        await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_FULL")
    row = await reload(deps, txn.id)
    assert (row.status, row.pending_step) == ("CAPTURED", None)
    assert (await dispute_of(deps, dispute.id)).status == "OPEN"
    clock.advance(timedelta(minutes=10))
    await settlement.run_due(deps)
    assert refusing.refused == 1  # not retried by the worker
    # Escrow stays held; the admin can still release.
    await settlement.resolve_dispute(deps, admin, dispute.id, "RELEASE")
    assert (await reload(deps, txn.id)).status == "RELEASED"
    assert await ledger_sums(deps, txn.id) == 0


async def test_a_refused_payout_releases_the_sale_with_the_transfer_pending(
    settle_app, payment_gateway, clock
):
    refusing = Refusing(payment_gateway, "transfer")
    deps = deps_with(settle_app, clock, payments=refusing)
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await start(deps, await sold_auction(deps, seller, buyer, 5_000))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    await settlement.confirm_receipt(deps, buyer, txn.id)
    row = await reload(deps, txn.id)
    assert (row.status, row.pending_step, row.payout_status) == ("RELEASED", None, "pending")
    assert "transaction.payout_refused" in await audit_actions(deps, txn.id)
    assert await ledger_sums(deps, txn.id) == 0


async def test_a_refused_capture_fails_the_sale_once_and_voids_its_authorization(
    settle_app, payment_gateway, clock
):
    refusing = Refusing(payment_gateway, "capture")
    deps = deps_with(settle_app, clock, payments=refusing)
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await start(deps, await sold_auction(deps, seller, buyer, 5_000))
    # Shipped, so the capture before the authorization's end is what runs (an unshipped
    # sale would be refunded at the end of the shipping window instead).
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    for _ in range(4):
        clock.advance(timedelta(days=3))
        await settlement.run_due(deps)
    row = await reload(deps, txn.id)
    assert (row.status, row.pending_step) == ("FAILED", None)
    assert refusing.refused == 1
    intent = await payment_gateway.retrieve_intent(row.stripe_payment_intent_id)
    assert intent.status == "canceled"
    assert await ledger_sums(deps, txn.id) == 0


@pytest.mark.parametrize("second_chance", [False, True])
async def test_a_declined_card_is_an_unpaid_strike_like_a_lapse(deps, second_chance):
    seller = await make_user(deps, "BIDDER", "SELLER")
    winner = await make_user(deps)
    runner = await make_user(deps)
    auction = await sold_auction(deps, seller, winner, 5_000, runner_up=(runner, 4_000))
    txn = await start(deps, auction)
    payer = winner
    if second_chance:
        deps.clock.advance(timedelta(days=4))
        await settlement.run_due(deps)  # the winner lapses: one strike
        txn = await settlement.offer_second_chance(deps, seller, txn.id)
        payer = runner
    await with_card(deps, payer, DECLINING_CARD)
    await settlement.pay(deps, payer, txn.id)
    assert (await reload(deps, txn.id)).status == "FAILED"
    # A runner-up was free to decline the offer: no strike, as for a lapsed offer.
    assert await strikes_of(deps, payer) == (0 if second_chance else 1)


async def test_a_declined_saved_card_at_the_start_is_a_strike(deps):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps), DECLINING_CARD)
    txn = await start(deps, await sold_auction(deps, seller, buyer, 5_000))
    assert (await reload(deps, txn.id)).status == "FAILED"
    assert await strikes_of(deps, buyer) == 1


async def test_a_declined_client_attempt_cancels_the_failed_sales_intent(
    settle_app, deps, payment_gateway
):
    """Client-secret flow: Stripe.js's first card is declined (payment_intent.
    payment_failed); the intent would stay confirmable with another card, so failing the
    sale cancels it."""
    seller, buyer = await make_user(deps, "BIDDER", "SELLER"), await make_user(deps)
    txn = await start(deps, await sold_auction(deps, seller, buyer, 2_000))
    txn = await settlement.pay(deps, buyer, txn.id)
    async with deps.uow() as uow:
        row = await uow.session.get(User, buyer.id)
        assert row is not None
        customer = row.stripe_customer_id
    intents = payment_gateway.client.v1.payment_intents
    pi = txn.stripe_payment_intent_id
    bad = await test_card(payment_gateway, customer, declined=True)
    await intents.update_async(pi, params={"payment_method": bad})
    with pytest.raises(stripe.StripeError):
        await intents.confirm_async(pi)
    failed_obj = (await intents.retrieve_async(pi)).to_dict()
    transport = httpx.ASGITransport(app=settle_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        body = stripe_event("payment_intent.payment_failed", failed_obj)
        response = await client.post(
            "/webhooks/stripe", content=body, headers=stripe_webhook_headers(body)
        )
        assert response.status_code == 200
    row = await reload(deps, txn.id)
    assert (row.status, row.pending_step) == ("FAILED", None)
    assert (await payment_gateway.retrieve_intent(pi)).status == "canceled"
    assert "transaction.intent_cancelled" in await audit_actions(deps, txn.id)


class CancelDown:
    """The emulator, unreachable for cancels until `up` is set."""

    def __init__(self, real: Any) -> None:
        self._real, self.up = real, False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != "cancel":
            return attr

        async def cancel(*args: Any, **kwargs: Any) -> Any:
            from domain.payments import GatewayUnavailable

            if not self.up:
                raise GatewayUnavailable("down")
            return await attr(*args, **kwargs)

        return cancel


async def test_a_failed_sales_cancel_is_resumed_by_the_worker(settle_app, payment_gateway, clock):
    flaky = CancelDown(payment_gateway)
    deps = deps_with(settle_app, clock, payments=flaky)
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await start(deps, await sold_auction(deps, seller, buyer, 3_000))
    assert txn.status == "AUTHORIZED"
    # The capture is refused (say the charge was disputed at the bank): the sale fails
    # and its authorization must be voided, but the gateway is down for the cancel.
    deps.payments = Refusing(flaky, "capture")
    clock.advance(timedelta(days=7))
    await settlement.run_due(deps)
    row = await reload(deps, txn.id)
    assert (row.status, row.pending_step) == ("FAILED", "cancel")
    flaky.up = True
    clock.advance(timedelta(minutes=10))
    await settlement.run_due(deps)
    row = await reload(deps, txn.id)
    assert row.pending_step is None
    intent = await payment_gateway.retrieve_intent(row.stripe_payment_intent_id)
    assert intent.status == "canceled"


async def _disputed_then_cancelled(deps, *, ship: bool):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    runner = await make_user(deps)
    auction = await sold_auction(deps, seller, buyer, 5_000, runner_up=(runner, 4_000))
    txn = await start(deps, auction)
    if ship:
        await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Not as described", "m")
    event = GatewayEvent(
        id=f"evt_{uuid.uuid4().hex[:20]}",
        type="payment_intent.canceled",
        object={"id": txn.stripe_payment_intent_id, "status": "canceled"},
        created=deps.clock(),
    )
    assert await settlement.apply_gateway_event(deps, event)
    return seller, buyer, txn, dispute


async def test_a_failed_sale_closes_its_open_dispute_as_voided(deps):
    seller, buyer, txn, dispute = await _disputed_then_cancelled(deps, ship=False)
    assert (await reload(deps, txn.id)).status == "FAILED"
    closed = await dispute_of(deps, dispute.id)
    assert (closed.status, closed.refund_amount) == ("RESOLVED_REFUND", 0)
    assert closed.resolved_at is not None
    assert "dispute.voided" in await audit_actions(deps, dispute.id)
    for party in (buyer, seller):
        assert "DISPUTE_RESOLVED" in await notifications_of(deps, party)
    async with deps.uow() as uow:
        open_ = (
            await uow.session.exec(
                select(Dispute).where(col(Dispute.status).in_(["OPEN", "SELLER_RESPONDED"]))
            )
        ).all()
    assert dispute.id not in {d.id for d in open_}
    for user in (buyer, seller):  # nobody lost it
        async with deps.uow() as uow:
            row = await uow.session.get(User, user.id)
            assert row is not None and row.disputes_lost == 0
    assert await ledger_sums(deps, txn.id) == 0


async def test_a_sale_that_failed_after_shipping_gets_no_second_chance(deps):
    seller, _buyer, txn, _dispute = await _disputed_then_cancelled(deps, ship=True)
    assert (await reload(deps, txn.id)).status == "FAILED"
    with pytest.raises(InvalidState):
        await settlement.offer_second_chance(deps, seller, txn.id)


async def test_a_failed_unshipped_sale_still_gets_its_second_chance(deps):
    seller, _buyer, txn, _dispute = await _disputed_then_cancelled(deps, ship=False)
    offer = await settlement.offer_second_chance(deps, seller, txn.id)
    assert offer.status == "PENDING"
