"""Bidding through the API against the real Redis slot, persister and scheduler."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from realtime.slots import keys
from tests.helpers import BID, BUY_NOW, PUBLISH, Account, create_auction, iso, register

AUCTION = """query($id: ID!) { auction(id: $id) {
  status outcome bidCount reserveMet currentPrice { amount } minimumNextBid { amount }
  finalPrice { amount } leader { id } winner { id } endsAt
  bids(first: 50) { totalCount edges { node { sequence bidder { id } amount { amount } } } }
} }"""


@pytest.fixture
async def seller(gql):
    return await register(gql, seller=True)


@pytest.fixture
async def bidders(gql):
    return [await register(gql) for _ in range(3)]


async def live_auction(gql, seller: Account, **overrides: Any) -> str:
    created = await create_auction(gql, seller, **overrides)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    return str(created["id"])


async def bid(
    gql,
    who: Account,
    auction_id: str,
    amount: str,
    max_amount: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    body = await gql(
        BID, {"id": auction_id, "amount": amount, "max": max_amount, "key": key}, token=who.token
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["placeBid"]
    return result


async def eventually(check, limit: float = 10.0):
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_english_rules_with_proxy_bids(gql, seller, bidders):
    a, b, c = bidders
    auction = await live_auction(gql, seller, startingPrice="100")
    low = await bid(gql, a, auction, "99.99")
    assert low["__typename"] == "BidRejected" and low["reason"] == "BID_TOO_LOW"
    assert low["minimumNextBid"] == {"amount": "100.00", "currency": "USD"}
    first = await bid(gql, a, auction, "100")
    assert first["__typename"] == "BidAccepted" and first["leading"] is True
    assert first["bid"]["sequence"] == 1
    assert first["auction"]["minimumNextBid"]["amount"] == "102.50"
    assert (await bid(gql, b, auction, "101"))["reason"] == "BID_TOO_LOW"
    second = await bid(gql, b, auction, "110")
    assert second["leading"] is True and second["auction"]["currentPrice"]["amount"] == "110.00"
    proxy = await bid(gql, c, auction, "115", "200")
    assert proxy["leading"] is True and proxy["auction"]["currentPrice"]["amount"] == "115.00"
    outbid = await bid(gql, b, auction, "120")  # below c's ceiling: recorded, pushes the price
    assert outbid["__typename"] == "BidAccepted" and outbid["leading"] is False
    assert outbid["auction"]["currentPrice"]["amount"] == "122.50"
    assert outbid["auction"]["leader"]["id"] == c.id
    same_ceiling = await bid(gql, c, auction, "130", "150")  # leader must raise the ceiling
    assert same_ceiling["reason"] == "BID_TOO_LOW"
    self_bid = await bid(gql, seller, auction, "500")
    assert self_bid["reason"] == "SELF_BIDDING"


async def test_reserve_lifts_the_price_when_the_ceiling_reaches_it(gql, seller, bidders):
    a, _, _ = bidders
    auction = await live_auction(gql, seller, startingPrice="100", reservePrice="300")
    result = await bid(gql, a, auction, "100", "400")
    assert result["auction"]["currentPrice"]["amount"] == "300.00"
    state = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert state["reserveMet"] is True


async def test_idempotency_key_returns_the_first_result(gql, seller, bidders):
    a, _, _ = bidders
    auction = await live_auction(gql, seller)
    first = await bid(gql, a, auction, "100", key="retry-1")
    again = await bid(gql, a, auction, "100", key="retry-1")
    assert again["bid"]["sequence"] == first["bid"]["sequence"] == 1
    state = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert state["bidCount"] == 1


@pytest.mark.parametrize(
    ("amount", "max_amount"),
    [
        ("-5", None),
        ("-0", None),
        ("100.001", None),
        ("1" + "0" * 20, None),  # huge; "1e20" is no Decimal (tests/api/test_strict_input.py)
        ("100", "90"),
        ("0", None),
    ],
)
async def test_bad_amounts_are_rejected_and_change_nothing(
    gql, seller, bidders, amount, max_amount
):
    a, _, _ = bidders
    auction = await live_auction(gql, seller)
    result = await bid(gql, a, auction, amount, max_amount)
    assert result["reason"] == "INVALID_AMOUNT", result
    state = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert state["bidCount"] == 0


async def test_bids_are_persisted_gaplessly(gql, seller, bidders, app):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, startingPrice="10")
    for i in range(6):
        who = a if i % 2 == 0 else b
        assert (await bid(gql, who, auction, str(10 + 5 * i)))["__typename"] == "BidAccepted"

    async def persisted():
        async with app.state.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        text("SELECT sequence FROM bids WHERE auction_id = :a ORDER BY sequence"),
                        {"a": auction},
                    )
                )
                .scalars()
                .all()
            )
        return rows if len(rows) == 6 else None

    assert await eventually(persisted) == [1, 2, 3, 4, 5, 6]
    state = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert state["bids"]["totalCount"] == 6
    assert [e["node"]["sequence"] for e in state["bids"]["edges"]] == [6, 5, 4, 3, 2, 1]


async def test_sealed_amounts_stay_hidden(gql, seller, bidders, app):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, type="SEALED_FIRST_PRICE", startingPrice="50")
    assert (await bid(gql, a, auction, "80"))["leading"] is False
    assert (await bid(gql, b, auction, "70"))["__typename"] == "BidAccepted"
    lower = await bid(gql, a, auction, "75")
    assert lower["reason"] == "BID_TOO_LOW"
    assert (await bid(gql, a, auction, "90"))["__typename"] == "BidAccepted"
    await app.state.persister.drain([auction])
    public = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert public["currentPrice"] is None and public["leader"] is None
    assert all(e["node"]["amount"] is None for e in public["bids"]["edges"])
    mine = (await gql(AUCTION, {"id": auction}, token=a.token))["data"]["auction"]
    amounts = {
        e["node"]["amount"]["amount"]
        for e in mine["bids"]["edges"]
        if e["node"]["bidder"]["id"] == a.id
    }
    assert amounts == {"80.00", "90.00"}
    assert all(
        e["node"]["amount"] is None
        for e in mine["bids"]["edges"]
        if e["node"]["bidder"]["id"] != a.id
    )


async def test_dutch_first_acceptable_bid_wins_at_the_current_price(gql, seller, bidders, app):
    a, b, _ = bidders
    auction = await live_auction(
        gql,
        seller,
        type="DUTCH",
        startingPrice="1000",
        dutchStep="10",
        dutchStepSeconds=3600,
        dutchFloor="500",
    )
    assert (await bid(gql, a, auction, "999"))["reason"] == "BID_TOO_LOW"
    won = await bid(gql, a, auction, "1200")
    assert won["__typename"] == "BidAccepted"
    assert won["bid"]["amount"]["amount"] == "1000.00"  # the price, not the amount sent
    assert (await bid(gql, b, auction, "2000"))["reason"] == "AUCTION_ENDED"
    await app.state.persister.drain([auction])
    state = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert state["status"] == "ENDED" and state["outcome"] == "SOLD"
    assert state["winner"]["id"] == a.id and state["finalPrice"]["amount"] == "1000.00"


async def test_buy_now_ends_the_auction(gql, seller, bidders, app):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, reservePrice="200", buyNowPrice="400")
    assert (await bid(gql, b, auction, "150"))["__typename"] == "BidAccepted"
    body = await gql(BUY_NOW, {"id": auction}, token=a.token)  # open: price below reserve
    bought = body["data"]["buyNow"]
    assert bought["__typename"] == "BidAccepted", body
    assert bought["bid"]["amount"]["amount"] == "400.00"
    assert bought["auction"]["status"] == "ENDED" and bought["auction"]["outcome"] == "SOLD"
    assert (await bid(gql, b, auction, "500"))["reason"] == "AUCTION_ENDED"
    await app.state.persister.drain([auction])
    state = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert state["winner"]["id"] == a.id and state["finalPrice"]["amount"] == "400.00"


async def test_buy_now_closes_once_the_reserve_is_met(gql, seller, bidders):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, reservePrice="200", buyNowPrice="400")
    assert (await bid(gql, b, auction, "250"))["__typename"] == "BidAccepted"
    body = await gql(BUY_NOW, {"id": auction}, token=a.token)
    assert body["data"]["buyNow"]["reason"] == "AUCTION_NOT_ACTIVE"


async def test_auctions_close_on_time_without_requests(gql, seller, bidders):
    a, b, c = bidders
    english = await live_auction(
        gql,
        seller,
        endsAt=iso(timedelta(seconds=3)),
        softCloseWindowSeconds=0,
        softCloseExtensionSeconds=0,
    )
    vickrey = await live_auction(
        gql,
        seller,
        type="SEALED_SECOND_PRICE",
        startingPrice="50",
        endsAt=iso(timedelta(seconds=3)),
    )
    unsold = await live_auction(gql, seller, endsAt=iso(timedelta(seconds=3)))
    await bid(gql, a, english, "100")
    await bid(gql, b, english, "120")
    for who, amount in ((a, "90"), (b, "70"), (c, "80")):
        assert (await bid(gql, who, vickrey, amount))["__typename"] == "BidAccepted"

    async def ended(auction_id: str):
        state = (await gql(AUCTION, {"id": auction_id}))["data"]["auction"]
        return state if state["status"] == "ENDED" and state["outcome"] else None

    english_state = await eventually(lambda: ended(english))
    assert english_state["outcome"] == "SOLD" and english_state["winner"]["id"] == b.id
    assert english_state["finalPrice"]["amount"] == "120.00"
    vickrey_state = await eventually(lambda: ended(vickrey))
    assert vickrey_state["winner"]["id"] == a.id
    assert vickrey_state["finalPrice"]["amount"] == "80.00"  # the second price
    unsold_state = await eventually(lambda: ended(unsold))
    assert unsold_state["outcome"] == "UNSOLD" and unsold_state["winner"] is None


async def test_soft_close_extends_the_end(gql, seller, bidders):
    a, _, _ = bidders
    auction = await live_auction(
        gql,
        seller,
        endsAt=iso(timedelta(seconds=30)),
        softCloseWindowSeconds=60,
        softCloseExtensionSeconds=120,
    )
    before = (await gql(AUCTION, {"id": auction}))["data"]["auction"]["endsAt"]
    accepted = await bid(gql, a, auction, "100")
    assert accepted["auction"]["endsAt"] > before
    rejected = await bid(gql, a, auction, "1")
    assert rejected["__typename"] == "BidRejected"
    after = (await gql(AUCTION, {"id": auction}))["data"]["auction"]["endsAt"]
    assert after == accepted["auction"]["endsAt"]  # rejected bids never extend


async def test_a_lost_slot_is_rebuilt_from_postgres(gql, seller, bidders, app):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, startingPrice="100")
    await bid(gql, a, auction, "100", "150")
    await bid(gql, b, auction, "110")
    await app.state.persister.drain([auction])
    await app.state.redis.delete(*keys(auction))
    too_low = await bid(gql, b, auction, "150")  # a's ceiling survived the rebuild
    assert too_low["__typename"] == "BidAccepted" and too_low["leading"] is False
    assert too_low["bid"]["sequence"] == 3
    assert too_low["auction"]["leader"]["id"] == a.id


async def test_not_active_auctions_refuse_bids(gql, seller, bidders):
    a, _, _ = bidders
    later = await create_auction(gql, seller, startsAt=iso(timedelta(hours=1)))
    await gql(PUBLISH, {"id": later["id"]}, token=seller.token)
    assert (await bid(gql, a, later["id"], "100"))["reason"] == "AUCTION_NOT_ACTIVE"
    draft = await create_auction(gql, seller)
    body = await gql(BID, {"id": draft["id"], "amount": "100"}, token=a.token)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_scheduled_auctions_start_on_time(gql, seller, bidders):
    a, _, _ = bidders
    created = await create_auction(
        gql, seller, startsAt=iso(timedelta(seconds=2)), endsAt=iso(timedelta(minutes=5))
    )
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "SCHEDULED"
    early = await bid(gql, a, created["id"], "100")
    assert early["reason"] == "AUCTION_NOT_ACTIVE"

    async def active():
        state = (await gql(AUCTION, {"id": created["id"]}))["data"]["auction"]
        return state["status"] == "ACTIVE"

    await eventually(active)
    accepted = await bid(gql, a, created["id"], "100")
    assert accepted["__typename"] == "BidAccepted"
    assert accepted["auction"]["status"] == "ACTIVE"
    assert accepted["auction"]["bidCount"] == 1


async def test_unverified_and_held_accounts_cannot_bid(gql, seller, app):
    from tests.helpers import LOGIN, PASSWORD

    auction = await live_auction(gql, seller)
    newcomer = await register(gql)
    deps = app.state.deps
    deps.require_verified_email = True
    try:
        refused = await bid(gql, newcomer, auction, "100")
    finally:
        deps.require_verified_email = False
    assert refused["reason"] == "NOT_VERIFIED"
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET fraud_hold = true WHERE id = :u"), {"u": newcomer.id}
        )
    login = await gql(LOGIN, {"email": newcomer.email, "password": PASSWORD})
    held = Account(
        newcomer.id, newcomer.username, newcomer.email, login["data"]["login"]["accessToken"], ""
    )
    result = await bid(gql, held, auction, "100")
    assert result.get("reason") == "FRAUD_HOLD", result
    state = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert state["bidCount"] == 0


NULL_IN_DIRECTIVE = """mutation($id: ID!, $x: Boolean = true) {
  buyNow(auctionId: $id) { __typename @include(if: $x) } }"""
NULL_AMOUNT = """mutation($id: ID!, $a: Decimal = "1.00") {
  placeBid(auctionId: $id, amount: $a) { __typename } }"""
NULL_INSIDE = """mutation($id: ID!, $x: Boolean = true) {
  placeBid(auctionId: $id, amount: "500.00") {
    __typename ... on BidAccepted { leading @include(if: $x) } } }"""


@pytest.mark.parametrize("document", [NULL_IN_DIRECTIVE, NULL_AMOUNT, NULL_INSIDE])
async def test_a_null_where_a_value_is_required_is_refused_before_any_bid(
    gql, seller, bidders, document
):
    # GraphQL lets a defaulted nullable variable stand in a non-null position; an explicit
    # null then failed only after the mutation had run: a bid placed, INTERNAL answered.
    auction_id = await live_auction(gql, seller, buyNowPrice="900.00")
    variables = {"id": auction_id, "x": None, "a": None}
    body = await gql(document, variables, token=bidders[0].token)
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"], body
    state = await gql(AUCTION, {"id": auction_id})
    assert state["data"]["auction"]["status"] == "ACTIVE"
    assert state["data"]["auction"]["bidCount"] == 0
