"""Disputes against the Stripe emulator (issue 14 item 6): every path of the state
machine, refunds through the gateway, escrow held while open, the window, and each
step notified and audited."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from domain.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from domain.settlement import AlreadyLeftFeedback, DisputeWindowClosed, SettlementPolicy
from services import settlement
from services.listings import ImageUpload
from storage.tables import User
from tests.integration.settlement_kit import (
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


async def _paid(deps, price=10_000, *, captured=False):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    admin = await make_user(deps, "BIDDER", "ADMIN")
    auction = await sold_auction(deps, seller, buyer, price)
    txn = await start(deps, auction)
    assert txn.status == "AUTHORIZED" and txn.capture_before is not None
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "123")
    if captured:
        deps.clock.now = txn.capture_before - timedelta(hours=1)
        await settlement.run_due(deps)
        txn = await reload(deps, txn.id)
        assert txn.status == "CAPTURED"
    return seller, buyer, admin, txn


async def _lost(deps, user):
    async with deps.uow() as uow:
        row = await uow.session.get(User, user.id)
        return row.disputes_lost


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


async def test_full_refund_after_capture_goes_back_through_the_gateway(deps, payment_gateway):
    seller, buyer, admin, txn = await _paid(deps, captured=True)
    dispute = await settlement.open_dispute(
        deps,
        buyer,
        txn.id,
        "Not as described",
        "The lens is scratched.",
        evidence_uploads=[ImageUpload(_png())],
    )
    assert dispute.status == "OPEN" and dispute.evidence[0]["content_type"] == "image/png"
    responded = await settlement.respond_to_dispute(deps, seller, dispute.id, "It was fine.")
    assert (responded.status, responded.seller_response) == ("SELLER_RESPONDED", "It was fine.")
    resolved = await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_FULL", None)
    assert (resolved.status, resolved.refund_amount) == ("RESOLVED_REFUND", 10_000)
    done = await reload(deps, txn.id)
    assert (done.status, done.refunded_amount) == ("REFUNDED", 10_000)
    assert await balances(deps, txn.id) == {"buyer_funds": -10_000, "refunds": 10_000}
    assert await ledger_sums(deps) == 0
    assert await _lost(deps, seller) == 1 and await _lost(deps, buyer) == 0
    for party in (buyer, seller):
        kinds = await notifications_of(deps, party)
        assert {"DISPUTE_OPENED", "DISPUTE_RESPONDED", "DISPUTE_RESOLVED"} <= set(kinds)
    assert await audit_actions(deps, dispute.id) == [
        "dispute.opened",
        "dispute.responded",
        "dispute.resolving",
        "dispute.resolved",
    ]
    with pytest.raises(InvalidState, match="already resolved"):
        await settlement.resolve_dispute(deps, admin, dispute.id, "RELEASE", None)
    with pytest.raises(InvalidState, match="already resolved"):
        await settlement.respond_to_dispute(deps, seller, dispute.id, "again")


async def test_a_full_refund_before_capture_cancels_the_authorization(deps, payment_gateway):
    _seller, buyer, admin, txn = await _paid(deps)
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Never arrived", "Nothing came.")
    await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_FULL", 10_000)
    done = await reload(deps, txn.id)
    assert done.status == "REFUNDED"
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_received) == ("canceled", 0)
    assert await balances(deps, txn.id) == {}
    assert await ledger_sums(deps, txn.id) == 0


async def test_a_partial_refund_releases_the_rest_with_the_fee_on_what_is_left(
    deps, payment_gateway
):
    _seller, buyer, admin, txn = await _paid(deps, 20_000)
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Damaged", "A dent.")
    with pytest.raises(ValidationFailed) as refused:
        await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_PARTIAL", 20_000)
    assert refused.value.field == "refundAmount"
    resolved = await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_PARTIAL", 5_000)
    assert (resolved.status, resolved.refund_amount) == ("RESOLVED_REFUND", 5_000)
    done = await reload(deps, txn.id)
    assert (done.status, done.refunded_amount, done.platform_fee) == ("RELEASED", 5_000, 750)
    assert await balances(deps, txn.id) == {
        "buyer_funds": -20_000,
        "refunds": 5_000,
        "platform_revenue": 750,
        "payouts_pending": 14_250,
    }
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_received) == ("succeeded", 20_000)
    assert await ledger_sums(deps) == 0
    # A partial refund completes the sale: both may leave feedback.
    await settlement.leave_feedback(deps, buyer, txn.id, 2, "Dented.")


async def test_release_resolution_pays_the_seller_and_counts_against_the_buyer(deps):
    seller, buyer, admin, txn = await _paid(deps, captured=True)
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Changed my mind", "...")
    resolved = await settlement.resolve_dispute(deps, admin, dispute.id, "RELEASE", None)
    assert resolved.status == "RESOLVED_RELEASE"
    assert (await reload(deps, txn.id)).status == "RELEASED"
    assert await balances(deps, txn.id) == {
        "buyer_funds": -10_000,
        "platform_revenue": 500,
        "payouts_pending": 9_500,
    }
    assert await _lost(deps, buyer) == 1 and await _lost(deps, seller) == 0


async def test_escrow_stays_held_while_a_dispute_is_open(deps, clock):
    _seller, buyer, admin, txn = await _paid(deps)
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Wrong item", "Not mine.")
    with pytest.raises(InvalidState, match="dispute is open"):
        await settlement.confirm_receipt(deps, buyer, txn.id)
    clock.advance(timedelta(days=30))  # past the hold window and the authorization's end
    await settlement.run_due(deps)
    held = await reload(deps, txn.id)
    assert held.status == "CAPTURED"  # captured in time, never released
    assert (await balances(deps, txn.id))["escrow"] == 10_000
    with pytest.raises(InvalidState, match="disputed already"):
        await settlement.open_dispute(deps, buyer, txn.id, "Again", "again")
    await settlement.resolve_dispute(deps, admin, dispute.id, "RELEASE", None)
    assert (await reload(deps, txn.id)).status == "RELEASED"


async def test_the_dispute_window_and_who_may_do_what(deps, clock):
    seller, buyer, admin, txn = await _paid(deps)
    stranger = await make_user(deps)
    with pytest.raises(NotFound):
        await settlement.open_dispute(deps, stranger, txn.id, "x", "y")
    with pytest.raises(Forbidden):
        await settlement.open_dispute(deps, seller, txn.id, "x", "y")
    for reason, message, field in [
        ("", "y", "reason"),
        ("x" * 101, "y", "reason"),
        ("x", " ", "message"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            await settlement.open_dispute(deps, buyer, txn.id, reason, message)
        assert refused.value.field == field
    with pytest.raises(ValidationFailed) as refused:
        await settlement.open_dispute(deps, buyer, txn.id, "x", "y", ["not-an-id"])
    assert refused.value.field == "evidenceImageIds"
    files_before = sorted(deps.media_dir.rglob("*"))
    with pytest.raises(NotFound):
        await settlement.open_dispute(
            deps, stranger, txn.id, "x", "y", evidence_uploads=[ImageUpload(_png())]
        )
    clock.advance(timedelta(days=14, seconds=1))  # shipped at the start: window closed
    with pytest.raises(DisputeWindowClosed):
        await settlement.open_dispute(
            deps, buyer, txn.id, "Late", "too late", evidence_uploads=[ImageUpload(_png())]
        )
    assert sorted(deps.media_dir.rglob("*")) == files_before  # refused: nothing stored

    seller, buyer, admin, txn = await _paid(deps)
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Broken", "It is broken.")
    with pytest.raises(NotFound):
        await settlement.respond_to_dispute(deps, stranger, dispute.id, "no")
    with pytest.raises(NotFound):
        await settlement.resolve_dispute(deps, stranger, "not-an-id", "RELEASE", None)
    with pytest.raises(Forbidden):
        await settlement.respond_to_dispute(deps, buyer, dispute.id, "me?")
    for party in (buyer, seller):
        with pytest.raises(Forbidden):
            await settlement.resolve_dispute(deps, party, dispute.id, "RELEASE", None)
    await settlement.respond_to_dispute(deps, seller, dispute.id, "Sorry.")
    with pytest.raises(InvalidState, match="already responded"):
        await settlement.respond_to_dispute(deps, seller, dispute.id, "Again.")
    with pytest.raises(ValidationFailed):
        await settlement.resolve_dispute(deps, admin, dispute.id, "HALF", None)
    assert (await reload(deps, txn.id)).status == "AUTHORIZED"  # bad input changed nothing


async def test_no_dispute_on_an_unpaid_or_settled_sale(deps):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await make_user(deps)
    txn = await start(deps, await sold_auction(deps, seller, buyer, 100))
    with pytest.raises(InvalidState, match="PENDING"):
        await settlement.open_dispute(deps, buyer, txn.id, "x", "y")
    seller, buyer, _admin, txn = await _paid(deps)  # shipped
    await settlement.confirm_receipt(deps, buyer, txn.id)
    with pytest.raises(InvalidState, match="RELEASED"):
        await settlement.open_dispute(deps, buyer, txn.id, "x", "y")


@pytest.mark.parametrize("party", ["buyer", "seller"])
async def test_an_admin_who_is_a_party_to_the_sale_cannot_resolve_its_dispute(deps, party):
    seller = await make_user(deps, "BIDDER", "SELLER", *(["ADMIN"] if party == "seller" else []))
    buyer = await with_card(
        deps, await make_user(deps, "BIDDER", *(["ADMIN"] if party == "buyer" else []))
    )
    txn = await start(deps, await sold_auction(deps, seller, buyer, 10_000))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "123")
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Broken", "It is broken.")
    judge = buyer if party == "buyer" else seller
    for resolution, amount in (("REFUND_FULL", None), ("REFUND_PARTIAL", 100), ("RELEASE", None)):
        with pytest.raises(Forbidden, match="party to this sale"):
            await settlement.resolve_dispute(deps, judge, dispute.id, resolution, amount)
    assert (await reload(deps, txn.id)).status == "AUTHORIZED"  # refused: nothing changed
    assert "dispute.resolving" not in await audit_actions(deps, dispute.id)
    other_admin = await make_user(deps, "BIDDER", "ADMIN")
    resolved = await settlement.resolve_dispute(deps, other_admin, dispute.id, "RELEASE", None)
    assert resolved.status == "RESOLVED_RELEASE"


async def test_an_unshipped_sale_may_be_disputed_however_long_after_payment(
    settle_app, payment_gateway, clock
):
    deps = deps_with(
        settle_app,
        clock,
        payments=payment_gateway,
        settlement_policy=SettlementPolicy(
            dispute_window=timedelta(days=1), shipping_window=timedelta(days=20)
        ),
    )
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    admin = await make_user(deps, "BIDDER", "ADMIN")
    txn = await start(deps, await sold_auction(deps, seller, buyer, 10_000))
    clock.advance(timedelta(days=10))  # far past the dispute window, still not shipped
    await settlement.run_due(deps)
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Never came", "Where is it?")
    clock.advance(timedelta(days=30))  # the shipping window passes with the dispute open
    assert (await settlement.run_due(deps)).errors == []  # the admin decides, not the worker
    assert "transaction.not_shipped" not in await audit_actions(deps, txn.id)
    held = await reload(deps, txn.id)
    assert held.status == "CAPTURED" and (await balances(deps, txn.id))["escrow"] == 10_000
    await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_FULL", None)
    assert (await reload(deps, txn.id)).status == "REFUNDED"
    assert await ledger_sums(deps, txn.id) == 0


async def test_once_shipped_the_dispute_window_counts_from_shipment(deps, clock):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await start(deps, await sold_auction(deps, seller, buyer, 10_000))
    clock.advance(timedelta(days=6))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "123")
    clock.advance(timedelta(days=14))  # 20 days after payment, 14 after shipment: still open
    await settlement.open_dispute(deps, buyer, txn.id, "Broken", "It is broken.")


async def test_after_a_full_refund_each_party_rates_the_other_once(deps):
    seller, buyer, admin, txn = await _paid(deps, captured=True)
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Broken", "It is broken.")
    await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_FULL", None)
    assert (await reload(deps, txn.id)).status == "REFUNDED"
    await settlement.leave_feedback(deps, buyer, txn.id, 2, "Arrived broken.")
    await settlement.leave_feedback(deps, seller, txn.id, 4)
    with pytest.raises(AlreadyLeftFeedback):
        await settlement.leave_feedback(deps, seller, txn.id, 4)
    with pytest.raises(Forbidden):
        await settlement.leave_feedback(deps, admin, txn.id, 1)
    assert await settlement.reputation(deps, seller.id) == settlement.Reputation(
        round((4 * 5 + 2) / 6, 2), 1
    )
