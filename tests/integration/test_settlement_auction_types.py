"""Every auction type's SOLD outcome starts settlement (issue 14 item 8, "the happy path
for each auction type"): auctions end through the real engine (bids over GraphQL, the
scheduler closing them on time, the persister recording the end), then the worker
starts each sale at the auction's final price and the buyer's saved card pays it."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest

from services import settlement
from storage.tables import Auction, User
from tests.conftest import GQL
from tests.helpers import BID, BUY_NOW, PUBLISH, create_auction, iso, register
from tests.integration.settlement_kit import (
    Clock,
    balances,
    deps_with,
    ledger_sums,
    settle_app,
    with_card,
)

__all__ = ["settle_app"]
pytestmark = pytest.mark.slow


async def _live(gql, seller, **terms) -> str:
    created = await create_auction(gql, seller, **terms)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    return str(created["id"])


async def _bid(gql, who, auction_id, amount):
    body = await gql(BID, {"id": auction_id, "amount": amount}, token=who.token)
    assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body


async def _ended(deps, auction_id: str):
    deadline = time.monotonic() + 30
    while True:
        async with deps.uow() as uow:
            row = await uow.session.get(Auction, uuid.UUID(auction_id))
        if row is not None and row.status == "ENDED":
            return row
        assert time.monotonic() < deadline, f"auction {auction_id} never ended"
        await asyncio.sleep(0.2)


async def _user(deps, account):
    async with deps.uow() as uow:
        row = await uow.session.get(User, uuid.UUID(account.id))
    assert row is not None
    return row


async def test_each_auction_type_settles_at_its_final_price(settle_app, payment_gateway):
    deps = deps_with(settle_app, Clock(), payments=payment_gateway)
    transport = httpx.ASGITransport(app=settle_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        gql = GQL(client)
        seller = await register(gql, seller=True)
        a, b, c = [await register(gql) for _ in range(3)]
        for account in (a, b, c):
            await with_card(deps, await _user(deps, account))
        closing = {
            "endsAt": iso(timedelta(seconds=3)),
            "softCloseWindowSeconds": 0,
            "softCloseExtensionSeconds": 0,
        }
        english = await _live(gql, seller, startingPrice="10", **closing)
        buy_now = await _live(gql, seller, startingPrice="10", buyNowPrice="150")
        dutch = await _live(
            gql,
            seller,
            type="DUTCH",
            startingPrice="100",
            dutchStep="10",
            dutchStepSeconds=60,
            dutchFloor="50",
            endsAt=iso(timedelta(minutes=5)),
        )
        sealed = {"startingPrice": "50", "endsAt": iso(timedelta(seconds=3))}
        first_price = await _live(gql, seller, type="SEALED_FIRST_PRICE", **sealed)
        vickrey = await _live(gql, seller, type="SEALED_SECOND_PRICE", **sealed)

        await _bid(gql, a, english, "100")
        await _bid(gql, b, english, "120")
        bought = await gql(BUY_NOW, {"id": buy_now}, token=c.token)
        assert bought["data"]["buyNow"]["__typename"] == "BidAccepted", bought
        await _bid(gql, b, dutch, "100")
        for auction in (first_price, vickrey):
            for who, amount in ((a, "90"), (b, "70"), (c, "80")):
                await _bid(gql, who, auction, amount)

    expected = {
        english: (b, 12_000),
        buy_now: (c, 15_000),
        dutch: (b, 10_000),
        first_price: (a, 9_000),
        vickrey: (a, 8_000),  # the second price
    }
    for auction_id in expected:
        row = await _ended(deps, auction_id)
        assert row.outcome == "SOLD"

    report = await settlement.run_due(deps)
    assert report.errors == [] and report.started >= len(expected)
    for auction_id, (winner, price) in expected.items():
        txn = await settlement.start_settlement(deps, uuid.UUID(auction_id))
        assert txn is not None
        assert (str(txn.buyer_id), txn.price, txn.amount) == (winner.id, price, price)
        assert txn.status == "AUTHORIZED", (auction_id, txn.failure_reason)
        buyer = await _user(deps, winner)
        await settlement.mark_shipped(deps, await _user(deps, seller), txn.id, "DHL", "1")
        done = await settlement.confirm_receipt(deps, buyer, txn.id)
        assert done.status == "RELEASED"
        fee = (price * 5 + 50) // 100
        assert await balances(deps, txn.id) == {
            "buyer_funds": -price,
            "platform_revenue": fee,
            "payouts_pending": price - fee,
        }
    assert await ledger_sums(deps) == 0
