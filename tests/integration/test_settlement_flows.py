"""Settlement end to end against the Stripe emulator through the real SDK (issue 14):
paying, shipping, receipt and auto-release, an authorization reaching its deadline in
transit, a declined card, a lapsed payment, second chances, and the ledger balanced
after each flow. Time moves by the test's clock, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import InvalidState
from domain.settlement import AlreadyLeftFeedback, SettlementPolicy
from services import settlement
from storage.tables import User
from tests.helpers import test_card
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
    with_card,
)

__all__ = ["clock", "deps", "settle_app"]


async def _started(deps, auction):
    report = await settlement.run_due(deps)
    assert report.errors == []
    txn = await settlement.start_settlement(deps, auction.id)  # idempotent: same row
    assert txn is not None
    return txn


async def test_paid_shipped_received_released_with_fee_and_premium(deps, payment_gateway):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    auction = await sold_auction(deps, seller, buyer, 10_000)

    txn = await _started(deps, auction)
    assert (txn.status, txn.amount, txn.price, txn.buyer_premium) == (
        "AUTHORIZED",
        10_000,
        10_000,
        0,
    )
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_capturable) == ("requires_capture", 10_000)
    assert await balances(deps, txn.id) == {"buyer_funds": -10_000, "escrow": 10_000}

    shipped = await settlement.mark_shipped(deps, seller, txn.id, "DHL", "JD0140")
    assert (shipped.carrier, shipped.tracking_number) == ("DHL", "JD0140")
    done = await settlement.confirm_receipt(deps, buyer, txn.id)
    assert (done.status, done.platform_fee, done.payout_status) == ("RELEASED", 500, "pending")
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_received) == ("succeeded", 10_000)
    assert await balances(deps, txn.id) == {
        "buyer_funds": -10_000,
        "platform_revenue": 500,
        "payouts_pending": 9_500,
    }
    assert await ledger_sums(deps, txn.id) == 0
    assert await ledger_sums(deps) == 0
    assert "PAYMENT_RELEASED" in await notifications_of(deps, seller)
    assert "ITEM_SHIPPED" in await notifications_of(deps, buyer)


async def test_the_buyer_premium_is_charged_and_kept_as_revenue(settle_app, payment_gateway, clock):
    deps = deps_with(settle_app, clock, payments=payment_gateway)
    deps.settlement_policy = SettlementPolicy(buyer_premium_bps=1250, platform_fee_bps=1000)
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    auction = await sold_auction(deps, seller, buyer, 999)
    txn = await _started(deps, auction)
    # 12.5% of 9.99 = 1.24875 -> 1.25; 10% fee of 9.99 = 0.999 -> 1.00.
    assert (txn.price, txn.buyer_premium, txn.amount) == (999, 125, 1124)
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "JD0141")
    done = await settlement.confirm_receipt(deps, buyer, txn.id)
    assert (done.status, done.platform_fee) == ("RELEASED", 100)
    assert await balances(deps, txn.id) == {
        "buyer_funds": -1124,
        "platform_revenue": 225,
        "payouts_pending": 899,
    }
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert intent.amount_received == 1124
    assert await ledger_sums(deps) == 0


async def test_without_a_saved_card_the_client_confirms_and_the_sale_is_authorized(
    deps, payment_gateway
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await make_user(deps)
    auction = await sold_auction(deps, seller, buyer, 4_200)
    txn = await _started(deps, auction)
    assert (txn.status, txn.stripe_payment_intent_id) == ("PENDING", None)
    txn = await settlement.pay(deps, buyer, txn.id)
    assert txn.status == "PENDING" and txn.stripe_payment_intent_id
    secret = await settlement.payment_client_secret(deps, buyer, txn.id)
    assert secret and secret.startswith(txn.stripe_payment_intent_id)
    assert await settlement.payment_client_secret(deps, seller, txn.id) is None
    # The buyer's client saves a card on the way; paying again uses it.
    await with_card(deps, buyer)
    txn = await settlement.pay(deps, buyer, txn.id)
    assert txn.status == "AUTHORIZED"
    assert await balances(deps, txn.id) == {"buyer_funds": -4_200, "escrow": 4_200}
    with pytest.raises(InvalidState, match="AUTHORIZED"):
        await settlement.pay(deps, buyer, txn.id)


async def test_a_declined_card_fails_the_sale_and_opens_a_second_chance(deps, payment_gateway):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps), DECLINING_CARD)
    runner_up = await make_user(deps)
    auction = await sold_auction(deps, seller, buyer, 7_000, runner_up=(runner_up, 6_500))
    txn = await _started(deps, auction)
    assert txn.status == "FAILED" and "declined" in (txn.failure_reason or "")
    for party in (buyer, seller):
        assert "PAYMENT_FAILED" in await notifications_of(deps, party)
    assert await ledger_sums(deps, txn.id) == 0

    offer = await settlement.offer_second_chance(deps, seller, txn.id)
    assert (offer.buyer_id, offer.price, offer.second_chance) == (runner_up.id, 6_500, True)
    assert offer.replaces_id == txn.id
    assert "SECOND_CHANCE_OFFER" in await notifications_of(deps, runner_up)
    with pytest.raises(InvalidState, match="already offered"):
        await settlement.offer_second_chance(deps, seller, txn.id)
    await with_card(deps, runner_up)
    paid = await settlement.pay(deps, runner_up, offer.id)
    assert paid.status == "AUTHORIZED"
    await settlement.mark_shipped(deps, seller, offer.id, "DHL", "JD0142")
    done = await settlement.confirm_receipt(deps, runner_up, offer.id)
    assert done.status == "RELEASED"
    assert await balances(deps, offer.id) == {
        "buyer_funds": -6_500,
        "platform_revenue": 325,
        "payouts_pending": 6_175,
    }
    assert await ledger_sums(deps) == 0
    purchases = await settlement.list_purchases(deps, runner_up)
    assert [t.id for t in purchases.rows] == [offer.id]


async def test_an_unpaid_sale_lapses_with_a_strike_and_only_english_gets_a_second_chance(
    deps, clock
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer, runner_up = await make_user(deps), await make_user(deps)
    english = await sold_auction(deps, seller, buyer, 3_000, runner_up=(runner_up, 2_900))
    dutch = await sold_auction(deps, seller, buyer, 3_000, type="DUTCH")
    first = await _started(deps, english)
    second = await settlement.start_settlement(deps, dutch.id)
    assert second is not None
    await settlement.pay(deps, buyer, first.id)  # an intent the buyer never confirms

    clock.advance(timedelta(days=3) - timedelta(seconds=1))
    await settlement.run_due(deps)
    assert (await reload(deps, first.id)).status == "PENDING"
    clock.advance(timedelta(seconds=2))
    report = await settlement.run_due(deps)
    assert report.errors == [] and report.lapsed >= 2
    assert (await reload(deps, second.id)).status == "FAILED"
    lapsed = await reload(deps, first.id)
    assert (lapsed.status, lapsed.failure_reason) == ("FAILED", "payment window lapsed")
    async with deps.uow() as uow:
        strikes = (await uow.session.get(User, buyer.id)).unpaid_strikes
    assert strikes == 2
    intent = await deps.payments.retrieve_intent(lapsed.stripe_payment_intent_id)
    assert intent.status == "canceled"  # nothing left for the client to confirm
    assert "PAYMENT_LAPSED" in await notifications_of(deps, seller)

    with pytest.raises(InvalidState, match="English"):
        await settlement.offer_second_chance(deps, seller, second.id)
    offer = await settlement.offer_second_chance(deps, seller, first.id)
    assert (offer.buyer_id, offer.price) == (runner_up.id, 2_900)
    # A second chance the runner-up lets lapse is no strike: they did not win.
    clock.advance(timedelta(days=3, seconds=1))
    await settlement.run_due(deps)
    assert (await reload(deps, offer.id)).status == "FAILED"
    async with deps.uow() as uow:
        assert (await uow.session.get(User, runner_up.id)).unpaid_strikes == 0
    assert await ledger_sums(deps) == 0


async def test_shipment_starts_the_hold_window_and_the_worker_releases(deps, clock):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await _started(deps, await sold_auction(deps, seller, buyer, 5_000))
    clock.advance(timedelta(days=1))
    await settlement.mark_shipped(deps, seller, txn.id, "UPS", "1Z999")
    clock.advance(timedelta(days=14) - timedelta(seconds=1))
    await settlement.run_due(deps)
    # Meanwhile the authorization neared its end: captured, still escrow in the ledger.
    assert (await reload(deps, txn.id)).status == "CAPTURED"
    clock.advance(timedelta(seconds=2))
    report = await settlement.run_due(deps)
    assert report.errors == []
    done = await reload(deps, txn.id)
    assert done.status == "RELEASED" and done.received_at is None
    assert await ledger_sums(deps, txn.id) == 0


async def test_an_authorization_reaching_its_deadline_in_transit_is_captured_once(
    deps, clock, payment_gateway
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await _started(deps, await sold_auction(deps, seller, buyer, 8_800))
    assert txn.capture_before == txn.authorized_at + timedelta(days=7)  # emulator: no date
    clock.advance(timedelta(days=2))
    await settlement.mark_shipped(deps, seller, txn.id, "USPS", "9400")
    clock.now = txn.capture_before - timedelta(hours=12, seconds=1)
    await settlement.run_due(deps)
    assert (await reload(deps, txn.id)).status == "AUTHORIZED"
    clock.advance(timedelta(seconds=1))
    await settlement.run_due(deps)
    in_transit = await reload(deps, txn.id)
    assert (in_transit.status, in_transit.received_at) == ("CAPTURED", None)
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_received, intent.amount_capturable) == (
        "succeeded",
        8_800,
        0,
    )
    assert await balances(deps, txn.id) == {"buyer_funds": -8_800, "escrow": 8_800}
    await settlement.run_due(deps)  # nothing more to capture
    done = await settlement.confirm_receipt(deps, buyer, txn.id)
    assert done.status == "RELEASED"
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert intent.amount_received == 8_800
    assert await ledger_sums(deps) == 0


async def test_a_payment_confirmed_without_its_webhook_is_not_lapsed(deps, clock, payment_gateway):
    seller, buyer = await make_user(deps, "BIDDER", "SELLER"), await make_user(deps)
    txn = await settlement.start_settlement(deps, (await sold_auction(deps, seller, buyer, 900)).id)
    assert txn is not None
    txn = await settlement.pay(deps, buyer, txn.id)
    async with deps.uow() as uow:
        customer = (await uow.session.get(User, buyer.id)).stripe_customer_id
    card = await test_card(payment_gateway, customer)
    intents = payment_gateway.client.v1.payment_intents
    await intents.update_async(txn.stripe_payment_intent_id, params={"payment_method": card})
    await intents.confirm_async(txn.stripe_payment_intent_id)  # the webhook never comes
    clock.advance(timedelta(days=3, seconds=1))
    assert (await settlement.run_due(deps)).errors == []
    paid = await reload(deps, txn.id)
    assert paid.status == "AUTHORIZED"
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert intent.status == "requires_capture"
    async with deps.uow() as uow:
        assert (await uow.session.get(User, buyer.id)).unpaid_strikes == 0


async def test_a_card_saved_through_a_setup_intent_pays_the_next_sale(deps, payment_gateway):
    from datetime import UTC, datetime

    from domain.errors import ValidationFailed
    from domain.payments import GatewayEvent, PaymentDeclined

    buyer = await make_user(deps)
    setup = await settlement.create_setup_intent(deps, buyer)
    assert setup.id.startswith("seti_") and setup.client_secret
    async with deps.uow() as uow:
        customer = (await uow.session.get(User, buyer.id)).stripe_customer_id
    assert customer
    # The client confirmed the SetupIntent with a card; Stripe reports it by webhook.
    card = await test_card(payment_gateway, customer)
    event = GatewayEvent(
        id=f"evt_setup_{setup.id}",
        type="setup_intent.succeeded",
        object={"id": setup.id, "customer": customer, "payment_method": card},
        created=datetime.now(UTC),
    )
    assert await settlement.apply_gateway_event(deps, event)
    async with deps.uow() as uow:
        assert (await uow.session.get(User, buyer.id)).stripe_payment_method_id == card
    seller = await make_user(deps, "BIDDER", "SELLER")
    txn = await settlement.start_settlement(
        deps, (await sold_auction(deps, seller, buyer, 1_500)).id
    )
    assert txn is not None and txn.status == "AUTHORIZED"
    # Saving a card: a malformed id changes nothing; a card refused on attaching says so.
    with pytest.raises(ValidationFailed) as refused:
        await settlement.save_payment_method(deps, buyer, "4242424242424242")
    assert refused.value.field == "paymentMethodId"
    with pytest.raises(PaymentDeclined):
        await settlement.save_payment_method(deps, buyer, "pm_card_visa_chargeDeclined")
    async with deps.uow() as uow:
        assert (await uow.session.get(User, buyer.id)).stripe_payment_method_id == card


@pytest.mark.parametrize("captured_first", [False, True])
async def test_a_paid_sale_never_shipped_is_refunded_in_full_after_the_shipping_window(
    settle_app, payment_gateway, clock, captured_first
):
    # Uncaptured: a window shorter than the authorization, so the hold is cancelled.
    # Captured first: the default window, as long as the authorization: the worker
    # captures in time and the money goes back through the gateway as a refund.
    window = timedelta(days=7 if captured_first else 3)
    deps = deps_with(
        settle_app,
        clock,
        payments=payment_gateway,
        settlement_policy=SettlementPolicy(shipping_window=window),
    )
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await _started(deps, await sold_auction(deps, seller, buyer, 5_000))
    assert txn.status == "AUTHORIZED" and txn.authorized_at is not None
    clock.now = txn.authorized_at + window
    assert (await settlement.run_due(deps)).errors == []
    # The window's last moment: not refunded, the seller may still ship.
    assert (await reload(deps, txn.id)).status == ("CAPTURED" if captured_first else "AUTHORIZED")
    clock.advance(timedelta(seconds=1))
    report = await settlement.run_due(deps)
    assert report.errors == [] and report.not_shipped >= 1
    refunded = await reload(deps, txn.id)
    assert (refunded.status, refunded.refunded_amount, refunded.pending_step) == (
        "REFUNDED",
        5_000,
        None,
    )
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    if captured_first:
        assert (intent.status, intent.amount_received) == ("succeeded", 5_000)
        assert await balances(deps, txn.id) == {"buyer_funds": -5_000, "refunds": 5_000}
    else:
        assert intent.status == "canceled"
        assert await balances(deps, txn.id) == {}
    assert await ledger_sums(deps, txn.id) == 0
    for party in (buyer, seller):
        kinds = await notifications_of(deps, party)
        assert "NOT_SHIPPED" in kinds and "PAYMENT_REFUNDED" in kinds
    assert "transaction.not_shipped" in await audit_actions(deps, txn.id)
    with pytest.raises(InvalidState):
        await settlement.mark_shipped(deps, seller, txn.id, "UPS", "late")
    clock.advance(timedelta(days=60))
    await settlement.run_due(deps)
    assert (await audit_actions(deps, txn.id)).count("transaction.not_shipped") == 1
    assert await ledger_sums(deps, txn.id) == 0  # refunded once
    # A refunded sale is completed: each party rates the other once.
    await settlement.leave_feedback(deps, buyer, txn.id, 1, "Never shipped.")
    await settlement.leave_feedback(deps, seller, txn.id, 3)
    with pytest.raises(AlreadyLeftFeedback):
        await settlement.leave_feedback(deps, buyer, txn.id, 1)


async def test_the_seller_cannot_ship_after_the_shipping_window(deps, clock):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await _started(deps, await sold_auction(deps, seller, buyer, 5_000))
    clock.advance(timedelta(days=7, seconds=1))  # the worker has not run yet
    with pytest.raises(InvalidState, match="had to ship by"):
        await settlement.mark_shipped(deps, seller, txn.id, "UPS", "1Z999")
    assert (await reload(deps, txn.id)).shipped_at is None


async def test_confirm_receipt_before_shipment_is_refused(deps):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await _started(deps, await sold_auction(deps, seller, buyer, 5_000))
    with pytest.raises(InvalidState, match="not been shipped yet"):
        await settlement.confirm_receipt(deps, buyer, txn.id)
    held = await reload(deps, txn.id)
    assert (held.status, held.received_at, held.pending_step) == ("AUTHORIZED", None, None)
    await settlement.mark_shipped(deps, seller, txn.id, "UPS", "1Z999")
    assert (await settlement.confirm_receipt(deps, buyer, txn.id)).status == "RELEASED"


async def test_feedback_waits_for_a_completed_sale(deps):
    seller = await make_user(deps, "BIDDER", "SELLER")
    failing = await with_card(deps, await make_user(deps), DECLINING_CARD)
    failed = await _started(deps, await sold_auction(deps, seller, failing, 5_000))
    assert failed.status == "FAILED"
    with pytest.raises(InvalidState, match="FAILED"):
        await settlement.leave_feedback(deps, failing, failed.id, 1)
    buyer = await with_card(deps, await make_user(deps))
    held = await _started(deps, await sold_auction(deps, seller, buyer, 5_000))
    with pytest.raises(InvalidState, match="AUTHORIZED"):
        await settlement.leave_feedback(deps, seller, held.id, 5)
