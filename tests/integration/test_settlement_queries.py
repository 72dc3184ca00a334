"""Who sees a sale (issue 14 item 8, "nobody else sees a transaction"): its buyer, its
seller and admins; anyone else, or a malformed id, is told it does not exist."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import NotFound, ValidationFailed
from services import settlement
from storage.tables import Transaction
from tests.integration.settlement_kit import (
    Clock,
    deps_with,
    make_user,
    settle_app,
    sold_auction,
)

__all__ = ["settle_app"]


async def _sale(deps, seller, buyer, price=5000):
    auction = await sold_auction(deps, seller, buyer, price)
    txn = Transaction(
        auction_id=auction.id,
        buyer_id=buyer.id,
        seller_id=seller.id,
        amount=price,
        price=price,
        currency="USD",
        idempotency_key=f"settle:{auction.id}:first",
    )
    async with deps.uow() as uow:
        uow.session.add(txn)
        await uow.commit()
    return txn


async def test_only_the_parties_and_admins_see_a_sale(settle_app):
    deps = deps_with(settle_app, Clock())
    seller, buyer = await make_user(deps, "BIDDER", "SELLER"), await make_user(deps)
    stranger, admin = await make_user(deps), await make_user(deps, "BIDDER", "ADMIN")
    txn = await _sale(deps, seller, buyer)
    for viewer in (buyer, seller, admin):
        assert (await settlement.get_transaction(deps, viewer, txn.id)).id == txn.id
        assert await settlement.ledger_for(deps, viewer, str(txn.id)) == []
    for bad in (txn.id, str(txn.id)):
        with pytest.raises(NotFound):
            await settlement.get_transaction(deps, stranger, bad)
    with pytest.raises(NotFound):
        await settlement.ledger_for(deps, stranger, txn.id)
    for malformed in ("not-a-uuid", str(uuid.uuid4())):
        with pytest.raises(NotFound):
            await settlement.get_transaction(deps, admin, malformed)


async def test_purchases_and_sales_list_each_side_newest_first(settle_app):
    clock = Clock()
    deps = deps_with(settle_app, clock)
    seller, buyer = await make_user(deps, "BIDDER", "SELLER"), await make_user(deps)
    made = [await _sale(deps, seller, buyer, price=1000 + i) for i in range(3)]
    bought = await settlement.list_purchases(deps, buyer, first=2, after=None)
    assert [t.id for t in bought.rows] == [t.id for t in reversed(made)][:2]
    assert (bought.total, bought.has_next) == (3, True)
    rest = await settlement.list_purchases(deps, buyer, first=2, after=bought.cursors[-1])
    assert [t.id for t in rest.rows] == [made[0].id]
    sold = await settlement.list_sales(deps, seller, first=None, after=None)
    assert {t.id for t in sold.rows} == {t.id for t in made}
    assert (await settlement.list_purchases(deps, seller)).rows == []
    assert (await settlement.list_sales(deps, buyer)).rows == []
    with pytest.raises(ValidationFailed):
        await settlement.list_sales(deps, seller, first=1, after="garbage")
