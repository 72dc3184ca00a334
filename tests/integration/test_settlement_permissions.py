"""Object-level permissions on a sale (issue 14 item 8): only the buyer pays and
confirms, only the seller ships and offers second chances, only a party leaves
feedback (once, on a completed sale), and a stranger is told the sale does not exist.
Refusals change nothing. Feedback feeds the Bayesian reputation."""

from __future__ import annotations

import pytest

from domain.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from domain.settlement import AlreadyLeftFeedback
from services import settlement
from tests.integration.settlement_kit import (
    Clock,
    deps_with,
    make_user,
    reload,
    settle_app,
    sold_auction,
    start,
    with_card,
)

__all__ = ["settle_app"]


@pytest.fixture
def deps(settle_app, payment_gateway):
    return deps_with(settle_app, Clock(), payments=payment_gateway)


async def test_each_step_belongs_to_one_party(deps):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    stranger = await make_user(deps, "BIDDER", "SELLER")
    admin = await make_user(deps, "BIDDER", "ADMIN")
    txn = await start(deps, await sold_auction(deps, seller, buyer, 1_000))
    before = await reload(deps, txn.id)

    for outsider in (stranger,):
        with pytest.raises(NotFound):
            await settlement.pay(deps, outsider, txn.id)
        with pytest.raises(NotFound):
            await settlement.mark_shipped(deps, outsider, txn.id, "DHL", "1")
        with pytest.raises(NotFound):
            await settlement.confirm_receipt(deps, outsider, txn.id)
        with pytest.raises(NotFound):
            await settlement.offer_second_chance(deps, outsider, txn.id)
        with pytest.raises(NotFound):
            await settlement.leave_feedback(deps, outsider, txn.id, 5, None)
    for not_buyer in (seller, admin):
        with pytest.raises(Forbidden):
            await settlement.pay(deps, not_buyer, txn.id)
        with pytest.raises(Forbidden):
            await settlement.confirm_receipt(deps, not_buyer, txn.id)
    for not_seller in (buyer, admin):
        with pytest.raises(Forbidden):
            await settlement.mark_shipped(deps, not_seller, txn.id, "DHL", "1")
        with pytest.raises(Forbidden):
            await settlement.offer_second_chance(deps, not_seller, txn.id)
    for carrier, tracking, field in [("", "1", "carrier"), ("DHL", "a\nb", "trackingNumber")]:
        with pytest.raises(ValidationFailed) as refused:
            await settlement.mark_shipped(deps, seller, txn.id, carrier, tracking)
        assert refused.value.field == field
    after = await reload(deps, txn.id)
    assert (after.status, after.shipped_at, after.updated_at) == (
        before.status,
        None,
        before.updated_at,
    )
    async with deps.uow() as uow:
        from storage.tables import User

        for refused_user in (stranger, seller, admin):
            row = await uow.session.get(User, refused_user.id)
            assert row.stripe_customer_id is None  # nothing was made for a refused call

    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    with pytest.raises(InvalidState, match="already"):
        await settlement.mark_shipped(deps, seller, txn.id, "DHL", "2")
    with pytest.raises(InvalidState, match="AUTHORIZED"):
        await settlement.offer_second_chance(deps, seller, txn.id)
    with pytest.raises(InvalidState, match="needs REFUNDED or RELEASED"):
        await settlement.leave_feedback(deps, buyer, txn.id, 5, None)
    await settlement.confirm_receipt(deps, buyer, txn.id)
    with pytest.raises(InvalidState, match="RELEASED"):
        await settlement.confirm_receipt(deps, buyer, txn.id)


async def test_feedback_once_per_party_and_reputation(deps):
    seller = await make_user(deps, "BIDDER", "SELLER")
    admin = await make_user(deps, "BIDDER", "ADMIN")
    assert await settlement.reputation(deps, seller.id) == settlement.Reputation(4.0, 0)
    ratings = [5, 5, 1]
    for rating in ratings:
        buyer = await with_card(deps, await make_user(deps))
        txn = await start(deps, await sold_auction(deps, seller, buyer, 500))
        await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
        await settlement.confirm_receipt(deps, buyer, txn.id)
        given = await settlement.leave_feedback(deps, buyer, txn.id, rating, "  ok  ")
        assert (given.subject_id, given.rating, given.comment) == (seller.id, rating, "ok")
        with pytest.raises(AlreadyLeftFeedback):
            await settlement.leave_feedback(deps, buyer, txn.id, 4, None)
        with pytest.raises(Forbidden):
            await settlement.leave_feedback(deps, admin, txn.id, 1, None)
        with pytest.raises(ValidationFailed):
            await settlement.leave_feedback(deps, seller, txn.id, 6, None)
        with pytest.raises(ValidationFailed):
            await settlement.leave_feedback(deps, seller, txn.id, 3, "x" * 2001)
        back = await settlement.leave_feedback(deps, seller, txn.id, 4, None)
        assert back.subject_id == buyer.id
    # (4 * 5 + 11) / (5 + 3) = 3.875 -> 3.88
    assert await settlement.reputation(deps, seller.id) == settlement.Reputation(3.88, 3)
    async with deps.uow() as uow:
        from storage.tables import User

        row = await uow.session.get(User, seller.id)
    assert settlement.reputation_of_user(deps, row) == settlement.Reputation(3.88, 3)


async def test_a_card_another_user_saved_or_paid_with_cannot_be_taken(deps):
    from storage.tables import User

    owner = await with_card(deps, await make_user(deps))
    thief = await make_user(deps)
    card = owner.stripe_payment_method_id
    assert card
    with pytest.raises(ValidationFailed) as refused:
        await settlement.save_payment_method(deps, thief, card)
    assert refused.value.field == "paymentMethodId"
    # Still refused after the owner replaced it: it paid for the owner's purchase.
    seller = await make_user(deps, "BIDDER", "SELLER")
    await start(deps, await sold_auction(deps, seller, owner, 700))
    await with_card(deps, owner)
    with pytest.raises(ValidationFailed):
        await settlement.save_payment_method(deps, thief, card)
    async with deps.uow() as uow:
        row = await uow.session.get(User, thief.id)
    assert row is not None and row.stripe_payment_method_id is None
