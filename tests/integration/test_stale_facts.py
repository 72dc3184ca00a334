"""A bid never uses or returns stale auction facts (issue 12, item 9).

`updateAuction` changes a SCHEDULED auction's terms (SPEC section 3); a process that
looked the auction up before (a bid tried too early, a live feed started) must still bid,
answer and decide the end on the new terms, whichever process made the update.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import orjson
import pytest

from domain.enums import AuctionType
from domain.events import public_event
from domain.listing import ListingChanges
from domain.slot_results import CloseApplied
from realtime.slots import keys
from realtime.stream import View
from services import bidding, listings
from storage.tables import Auction
from tests.integration import race_kit
from tests.integration.race_kit import (
    Pair,
    make_due,
    make_users,
    new_draft,
    new_live,
    place,
    settled,
    stored_row,
)

pytestmark = pytest.mark.slow
own_redis, pair = race_kit.own_redis, race_kit.pair  # the module's two app instances


BID_DOC = """mutation($id: ID!, $amount: Decimal!) { placeBid(auctionId: $id, amount: $amount) {
  __typename
  ... on BidAccepted { auction { status startsAt endsAt reserveMet
      startingPrice { amount } buyNowPrice { amount } minimumNextBid { amount } } }
  ... on BidRejected { reason minimumNextBid { amount } } } }"""


@pytest.mark.parametrize("updater", ["same process", "other process"])
async def test_a_bid_after_an_update_of_a_scheduled_auction_uses_the_new_terms(
    pair: Pair, updater: str
):
    """A process caches the auction (a bid tried too early); it or another updates it."""
    deps = pair.deps
    other = deps if updater == "same process" else pair.other
    (seller,), (early, bidder, buyer) = (
        await make_users(deps, 1, "SELLER"),
        await make_users(deps, 3),
    )
    auction_id = await new_draft(
        deps,
        seller,
        starts_at=datetime.now(UTC) + timedelta(hours=1),
        reserve_price=Decimal("15"),
        buy_now_price=Decimal("40"),
    )
    await listings.publish_auction(deps, seller, auction_id)
    too_early = await place(deps, early, auction_id, "10")
    assert isinstance(too_early, bidding.Rejected) and too_early.reason == "AUCTION_NOT_ACTIVE"

    new_end = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    await listings.update_auction(
        other,
        seller,
        auction_id,
        ListingChanges(
            starting_price=Decimal("20"),
            reserve_price=Decimal("50"),
            buy_now_price=Decimal("90"),
            ends_at=new_end,
        ),
    )
    await make_due(other, auction_id)
    scheduler = pair.one.state.scheduler if other is deps else pair.two.state.scheduler
    assert await scheduler.activate_due() == 1

    # The slot decides on the new terms: the old starting price is too low now.
    low = await place(deps, bidder, auction_id, "10")
    assert isinstance(low, bidding.Rejected) and low.minimum_next_bid == 2000, low
    placed = await place(deps, bidder, auction_id, "20")
    assert isinstance(placed, bidding.Accepted), placed
    seen = placed.auction
    assert (seen.starting_price, seen.reserve_price, seen.buy_now_price) == (2000, 5000, 9000)
    assert seen.ends_at == new_end

    # And what the client sees of it, over the API of the process that cached it.
    token = deps.tokens.issue_access(buyer.id, datetime.now(UTC))
    transport = httpx.ASGITransport(app=pair.one)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": BID_DOC, "variables": {"id": str(auction_id), "amount": "21"}},
            headers={"Authorization": f"Bearer {token}"},
        )
    answer = response.json()["data"]["placeBid"]
    assert answer["__typename"] == "BidAccepted", answer
    shown = answer["auction"]
    assert shown["status"] == "ACTIVE"
    assert shown["startingPrice"] == {"amount": "20.00"}
    assert shown["buyNowPrice"] == {"amount": "90.00"}
    assert shown["reserveMet"] is False  # 21.00 < the new reserve 50.00 (the old was 15.00)
    assert datetime.fromisoformat(shown["endsAt"]) == new_end
    # Buy-now is still open below the new reserve, at the new price.
    bought = await bidding.place_bid(deps, early, auction_id, None, None, None, buy_now=True)
    assert isinstance(bought, bidding.Accepted) and bought.bid.amount == 9000, bought


async def test_a_feed_started_before_an_update_ends_a_sealed_auction_on_the_new_reserve(
    pair: Pair,
):
    """A live feed keeps the row it started with; a sealed end must not be decided on it."""
    deps = pair.deps
    (seller,), (bidder,) = await make_users(deps, 1, "SELLER"), await make_users(deps, 1)
    auction_id = await new_draft(
        deps,
        seller,
        type=AuctionType.SEALED_FIRST_PRICE,
        starts_at=datetime.now(UTC) + timedelta(hours=1),
        reserve_price=Decimal("15"),
        soft_close_window_seconds=None,
        soft_close_extension_seconds=None,
    )
    await listings.publish_auction(deps, seller, auction_id)
    view = View(await stored_row(deps, auction_id))  # a subscriber's feed, started while SCHEDULED
    await listings.update_auction(
        pair.other, seller, auction_id, ListingChanges(reserve_price=Decimal("50"))
    )
    await make_due(deps, auction_id)
    assert await pair.two.state.scheduler.activate_due() == 1
    assert isinstance(await place(deps, bidder, auction_id, "30"), bidding.Accepted)

    await deps.slots.redis.hset(keys(auction_id)[0], "ends_ms", str(int(time.time() * 1000) - 1))
    closed = await deps.slots.close(auction_id)
    assert isinstance(closed, CloseApplied), closed
    shown = view.present(closed.event)
    assert (shown.price, shown.leader_id) == (None, None), "sold below the new reserve"
    assert "reserve" not in public_event(closed.event, str(auction_id), sealed=True)
    row = await settled(pair, auction_id, "ENDED")
    assert (row.outcome, row.winner_id) == ("UNSOLD", None)


async def test_a_retried_bid_shows_the_terms_after_a_rebuild_and_from_an_older_answer(
    pair: Pair,
):
    """The first answer is replayed: from a slot rebuilt out of PostgreSQL, and from an
    answer remembered before answers carried the terms."""
    deps = pair.deps
    (seller,), (bidder,) = await make_users(deps, 1, "SELLER"), await make_users(deps, 1)
    auction_id = await new_live(
        deps, seller, reserve_price=Decimal("50"), buy_now_price=Decimal("90")
    )
    expected = (1000, 5000, 9000)

    async def retry() -> Auction:
        again = await bidding.place_bid(deps, bidder, auction_id, Decimal("10"), None, "k1")
        assert isinstance(again, bidding.Accepted) and again.bid.sequence == 1, again
        return again.auction

    first = await retry()
    assert (first.starting_price, first.reserve_price, first.buy_now_price) == expected
    state, events, idem, sealed = keys(auction_id)
    # An answer stored by an older version: no terms in it.
    field = f"{bidder.id}:k1"
    stored = orjson.loads(await deps.slots.redis.hget(idem, field))
    old = {k: v for k, v in stored.items() if k not in ("start", "reserve", "buynow", "starts")}
    await deps.slots.redis.hset(idem, field, orjson.dumps(old).decode())
    seen = await retry()
    assert (seen.starting_price, seen.reserve_price, seen.buy_now_price) == expected
    # Redis lost the slot; the retry rebuilds it from the record.
    assert deps.outbox is not None
    await deps.outbox.drain([str(auction_id)])
    await deps.slots.redis.delete(state, events, idem, sealed)
    seen = await retry()
    assert (seen.starting_price, seen.reserve_price, seen.buy_now_price) == expected
    assert seen.starts_at == first.starts_at and seen.ends_at == first.ends_at
