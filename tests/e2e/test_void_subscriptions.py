"""A void's recompute reaches `auctionUpdated` subscribers over real sockets: one
BIDS_VOIDED event with the next sequence and the recomputed state, live and on resume."""

from __future__ import annotations

import uuid

import pytest

from services import bid_voiding
from storage.tables import User
from tests.e2e import test_subscriptions as subs
from tests.e2e.test_subscriptions import PROTOCOLS, SUBSCRIBE, bid, live_auction, sequences, socket
from tests.helpers import register

# The subscription tests' fixtures: the app server in its own process, and GraphQL to it.
server = subs.server
gql = subs.gql


async def _admin(app, account_id: str) -> User:
    from sqlalchemy import text

    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET roles = '{BIDDER,ADMIN}' WHERE id = :u"), {"u": account_id}
        )
    async with app.state.deps.uow() as uow:
        user: User | None = await uow.session.get(User, uuid.UUID(account_id))
        assert user is not None
        return user


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscribers_see_bids_voided_and_resume_across_it(server, gql, app, protocol):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    admin = await _admin(app, (await register(gql)).id)
    auction_id = await live_auction(gql, seller)
    await bid(gql, alice, auction_id, "100")
    await bid(gql, bob, auction_id, "200")

    async with socket(server, protocol) as sock:
        await sock.subscribe("1", SUBSCRIBE, {"id": auction_id, "since": 0})
        seen = await sock.events("1", 2)
        await bid_voiding.void_bids(
            app.state.deps, admin, uuid.UUID(bob.id), uuid.UUID(auction_id), reason="shill"
        )
        voided = await sock.event("1")
        await sock.assert_quiet()
    assert sequences(seen) == [1, 2]
    assert voided["kind"] == "BIDS_VOIDED" and voided["sequence"] == 3
    assert voided["currentPrice"]["amount"] == "100.00"
    assert voided["bidCount"] == 1 and voided["leaderId"] == alice.id

    # Resuming from before the void replays it once, in order, then goes live.
    async with socket(server, protocol) as sock:
        await sock.subscribe("2", SUBSCRIBE, {"id": auction_id, "since": 2})
        replayed = await sock.event("2")
        await bid(gql, bob, auction_id, "300")
        live = await sock.event("2")
        await sock.assert_quiet()
    assert (replayed["kind"], replayed["sequence"]) == ("BIDS_VOIDED", 3)
    assert (live["kind"], live["sequence"], live["leaderId"]) == ("BID_ACCEPTED", 4, bob.id)
    assert live["currentPrice"]["amount"] == "300.00" and live["bidCount"] == 2
