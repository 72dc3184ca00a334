"""200 bidders at once on one auction: nothing lost, nothing doubled, prices only rise."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import FastAPI
from sqlalchemy import text

from domain.slot_results import CloseApplied
from realtime.slots import keys
from services import bidding
from storage.tables import User
from tests.helpers import live_english_auction

BIDDERS = 200


async def _users(app: FastAPI, count: int) -> list[User]:
    deps = app.state.deps
    password = deps.hasher.hash_sync("not used here")
    users = [
        User(
            username=f"c{uuid.uuid4().hex[:12]}",
            email=f"{uuid.uuid4().hex}@example.com",
            password_hash=password,
        )
        for _ in range(count)
    ]
    async with deps.uow() as uow:
        uow.session.add_all(users)
        await uow.commit()
    return users


async def test_two_hundred_concurrent_bidders(app: FastAPI):
    deps = app.state.deps
    seller, *bidders = await _users(app, BIDDERS + 1)
    auction = await live_english_auction(app, seller)
    rng = random.Random(7)
    # Rising amounts with noise: many bids race for the same price level.
    amounts = {
        b.id: Decimal(100 + i * 250 + rng.randrange(0, 5_000)) / 100 for i, b in enumerate(bidders)
    }
    start = asyncio.Event()

    async def one(bidder: User) -> bidding.Accepted | bidding.Rejected:
        await start.wait()
        return await bidding.place_bid(
            deps, bidder, auction.id, amounts[bidder.id], None, f"k-{bidder.id}"
        )

    tasks = [asyncio.create_task(one(b)) for b in bidders]
    start.set()
    results = await asyncio.gather(*tasks)
    accepted = [r for r in results if isinstance(r, bidding.Accepted)]
    rejected = [r for r in results if isinstance(r, bidding.Rejected)]
    assert len(accepted) + len(rejected) == BIDDERS
    assert len(accepted) > BIDDERS // 10, "the race should accept a good share"
    assert {r.reason for r in rejected} <= {"BID_TOO_LOW"}
    sequences = sorted(r.bid.sequence for r in accepted)
    assert sequences == list(range(1, len(accepted) + 1)), "gapless, no duplicates"
    by_sequence = sorted(accepted, key=lambda r: r.bid.sequence)
    prices = [r.bid.amount for r in by_sequence]
    assert prices == sorted(set(prices)), "each accepted English bid raises the price"
    # Every bidder bid once without a ceiling, so the highest accepted amount leads.
    best = by_sequence[-1]
    live = (await deps.slots.live([auction.id]))[0]
    assert live is not None and live.price == best.bid.amount
    assert live.leader_id == best.bid.bidder_id and live.bid_count == len(accepted)
    # Every rejection was right when it happened: below the price at that moment.
    assert all(r.minimum_next_bid is not None for r in rejected)

    # Close it and let the persister record everything.
    past = str(int(datetime.now(UTC).timestamp() * 1000) - 1)
    await deps.slots.redis.hset(keys(auction.id)[0], "ends_ms", past)
    closed = await deps.slots.close(auction.id)
    assert isinstance(closed, CloseApplied), closed
    await app.state.persister.drain([str(auction.id)])
    async with app.state.engine.connect() as conn:
        stored = (
            await conn.execute(
                text(
                    "SELECT sequence, amount, bidder_id FROM bids WHERE auction_id = :a"
                    " ORDER BY sequence"
                ),
                {"a": auction.id},
            )
        ).all()
        row = (
            await conn.execute(
                text("SELECT status, outcome, winner_id, final_price FROM auctions WHERE id = :a"),
                {"a": auction.id},
            )
        ).one()
    assert [s.sequence for s in stored] == sequences
    assert {(s.sequence, s.amount, s.bidder_id) for s in stored} == {
        (r.bid.sequence, r.bid.amount, r.bid.bidder_id) for r in accepted
    }
    assert tuple(row) == ("ENDED", "SOLD", best.bid.bidder_id, best.bid.amount)
