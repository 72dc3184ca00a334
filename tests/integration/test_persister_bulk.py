"""The persister writes in-flight events of many auctions in one transaction: the rows it
leaves must equal the slots' own state, each bid and OUTBID notice once."""

from __future__ import annotations

import random
from decimal import Decimal

from fastapi import FastAPI
from sqlalchemy import text

from domain.events import BidAccepted
from services import bidding
from tests.helpers import live_english_auction
from tests.integration.test_concurrency import _users


async def test_bulk_persisting_matches_the_slots(app: FastAPI):
    deps, persister = app.state.deps, app.state.persister
    seller, *bidders = await _users(app, 7)
    auctions = [await live_english_auction(app, seller) for _ in range(3)]
    rng = random.Random(3)
    accepted: dict[object, int] = {a.id: 0 for a in auctions}
    for round_ in range(12):
        for auction in auctions:
            bidder = rng.choice(bidders)
            amount = Decimal(100 + round_ * 150 + rng.randrange(0, 300)) / 100
            ceiling = amount + Decimal(rng.choice([0, 0, 5, 20]))
            result = await bidding.place_bid(
                deps, bidder, auction.id, amount, ceiling if ceiling > amount else None, None
            )
            if isinstance(result, bidding.Accepted):
                accepted[auction.id] += 1
    ids = [str(a.id) for a in auctions]
    await persister.drain(ids)  # whatever this process's own pass has not written yet
    await persister.drain(ids)  # a second pass changes nothing
    outbids = 0
    async with app.state.engine.connect() as conn:
        for auction in auctions:
            live = (await deps.slots.live([auction.id]))[0]
            assert live is not None and live.bid_count == accepted[auction.id] > 0
            row = (
                await conn.execute(
                    text(
                        "SELECT last_sequence, bid_count, current_price, leader_id, ends_at"
                        " FROM auctions WHERE id = :a"
                    ),
                    {"a": auction.id},
                )
            ).one()
            assert tuple(row) == (
                live.sequence,
                live.bid_count,
                live.price,
                live.leader_id,
                live.ends_at,
            )
            events = await deps.slots.events_since(auction.id, 0)
            counts = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM auction_events WHERE auction_id = :a),"
                        " (SELECT count(*) FROM bids WHERE auction_id = :a),"
                        " (SELECT count(*) FROM notifications"
                        "   WHERE auction_id = :a AND kind = 'OUTBID')"
                    ),
                    {"a": auction.id},
                )
            ).one()
            outbid = sum(1 for e in events if isinstance(e, BidAccepted) and e.outbid)
            assert tuple(counts) == (len(events), accepted[auction.id], outbid)
            outbids += outbid
    assert outbids > 0, "the bids should have outbid someone"
