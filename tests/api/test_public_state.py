"""The price an auction shows is the price its slot charges (domain/public_state.py)."""

from __future__ import annotations

from sqlalchemy import text

from realtime.slots import keys
from tests.api.test_bidding import AUCTION, bid, live_auction
from tests.helpers import register


async def test_a_dutch_auction_without_an_activation_time_shows_the_price_a_bid_pays(gql, app):
    seller, bidder = await register(gql, seller=True), await register(gql)
    auction = await live_auction(
        gql,
        seller,
        type="DUTCH",
        startingPrice="1000",
        dutchStep="10",
        dutchStepSeconds=3600,
        dutchFloor="500",
    )
    # A row that never recorded when it became active (written by hand or by an older
    # release), whose slot is then rebuilt from it: two and a half hours since creation.
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE auctions SET activated_at = NULL, starts_at = NULL,"
                " published_at = NULL, created_at = now() - interval '150 minutes'"
                " WHERE id = :a"
            ),
            {"a": auction},
        )
    await app.state.redis.delete(*keys(auction))

    shown = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert shown["currentPrice"] == shown["minimumNextBid"] == {"amount": "980.00"}
    won = await bid(gql, bidder, auction, shown["currentPrice"]["amount"])
    assert won["__typename"] == "BidAccepted"
    assert won["bid"]["amount"]["amount"] == "980.00"
