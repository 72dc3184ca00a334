"""Browse (`auctions`) shares search's new filters (hasBuyNow, reserveMet) and, like
search, never filters or sorts an open sealed auction by its hidden bids."""

from __future__ import annotations

from typing import Any

from tests.helpers import BID, PUBLISH, Account, create_auction, register

PAGE = """query($f: AuctionFilter, $s: AuctionSort) {
  auctions(filter: $f, sort: $s, first: 50) { totalCount edges { node { id } } }
}"""


async def ids(gql: Any, f: dict[str, Any], sort: str = "ENDING_SOON") -> list[str]:
    body = await gql(PAGE, {"f": f, "s": sort})
    assert "errors" not in body, body
    return [e["node"]["id"] for e in body["data"]["auctions"]["edges"]]


async def publish(gql: Any, seller: Account, **overrides: Any) -> str:
    created = await create_auction(gql, seller, **overrides)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    return str(created["id"])


async def bid(gql: Any, who: Account, auction_id: str, amount: str) -> None:
    body = await gql(BID, {"id": auction_id, "amount": amount}, token=who.token)
    assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body


async def test_has_buy_now_and_reserve_met(gql, app):
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    plain = await publish(gql, seller)
    buy_now = await publish(gql, seller, buyNowPrice="500.00")
    reserve = await publish(gql, seller, reservePrice="300.00")
    reached = await publish(gql, seller, reservePrice="150.00")
    sealed = await publish(gql, seller, type="SEALED_FIRST_PRICE", reservePrice="150.00")
    await bid(gql, bidder, reached, "200.00")
    await bid(gql, bidder, sealed, "200.00")  # above its reserve, but sealed: not shown
    await app.state.persister.drain([reached, sealed])
    mine = {"sellerId": seller.id}
    assert await ids(gql, {**mine, "hasBuyNow": True}) == [buy_now]
    assert set(await ids(gql, {**mine, "hasBuyNow": False})) == {plain, reserve, reached, sealed}
    assert set(await ids(gql, {**mine, "reserveMet": True})) == {plain, buy_now, reached}
    assert set(await ids(gql, {**mine, "reserveMet": False})) == {reserve, sealed}


async def test_open_sealed_auctions_filter_and_sort_by_their_public_price(gql, app):
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    sealed = await publish(gql, seller, type="SEALED_SECOND_PRICE", startingPrice="10.00")
    english = await publish(gql, seller, startingPrice="50.00")
    await bid(gql, bidder, sealed, "900.00")
    await app.state.persister.drain([sealed])
    mine = {"sellerId": seller.id}
    assert await ids(gql, {**mine, "minPrice": "100"}) == []
    assert await ids(gql, {**mine, "maxPrice": "10"}) == [sealed]
    assert await ids(gql, mine, "PRICE_DESC") == [english, sealed]
