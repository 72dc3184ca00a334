"""Voiding a bidder's bids (admin) and retracting one's own (eBay's rules), through the
use cases and the API, against the real Redis slot, persister and PostgreSQL: the auction
is recomputed from the remaining bids, the recompute is one BIDS_VOIDED event, and the
persisted rows (bids, auction, notifications, audit) follow it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from domain.errors import Forbidden, InvalidState, ValidationFailed
from domain.events import BidAccepted, BidsVoided
from domain.retraction import RetractionNotAllowed
from domain.slot_results import BidApplied
from realtime.slots import AuctionSlots
from services import bid_voiding, listings
from storage.tables import User
from tests.api.test_bidding import bid, live_auction
from tests.helpers import Account, iso, register
from tests.model.reference import English

RETRACT = """
mutation($id: ID!) { retractBid(auctionId: $id) {
  result { auctionId voidedSequences ignoredSequences sequence
           before { price { amount } leaderId bidCount }
           after { price { amount } leaderId bidCount } }
  auction { id bidCount currentPrice { amount } leader { id } }
  errors { code message field }
} }"""


@pytest.fixture
async def seller(gql):
    return await register(gql, seller=True)


@pytest.fixture
async def bidders(gql):
    return [await register(gql) for _ in range(3)]


async def user_row(app, account: Account, *, admin: bool = False) -> User:
    if admin:
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("UPDATE users SET roles = '{BIDDER,ADMIN}' WHERE id = :u"), {"u": account.id}
            )
    async with app.state.deps.uow() as uow:
        user: User | None = await uow.session.get(User, uuid.UUID(account.id))
        assert user is not None
        return user


async def rows(app, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def notes_of(app, account: Account, auction: str) -> list[str]:
    found = await rows(
        app,
        "SELECT kind FROM notifications WHERE user_id = :u AND auction_id = :a ORDER BY kind",
        u=account.id,
        a=auction,
    )
    return [r.kind for r in found]


async def test_void_recomputes_the_auction_and_records_it(gql, app, seller, bidders):
    a, b, c = bidders
    admin = await user_row(app, await register(gql), admin=True)
    auction = await live_auction(gql, seller, startingPrice="100")
    assert (await bid(gql, a, auction, "100", "300"))["leading"] is True  # 1
    assert (await bid(gql, b, auction, "150", "200"))["leading"] is False  # 2: a at 205
    assert (await bid(gql, c, auction, "250"))["leading"] is False  # 3: a at 255
    assert (await bid(gql, a, auction, "260", "400"))["leading"] is True  # 4: raises own max

    report = await bid_voiding.void_bids(
        app.state.deps, admin, uuid.UUID(a.id), uuid.UUID(auction), reason="shill ring"
    )
    (done,) = report.auctions
    assert done.voided == [1, 4]
    assert done.before == bid_voiding.AuctionState(25500, uuid.UUID(a.id), 4)
    # Replayed without a: b leads at 150 (max 200); c's 250 beats b's ceiling.
    assert done.after == bid_voiding.AuctionState(25000, uuid.UUID(c.id), 2)
    assert done.sequence == 5 and done.ignored == []

    body = await gql(
        "query($id: ID!) { auction(id: $id) { bidCount currentPrice { amount } leader { id }"
        " bids(first: 10) { totalCount } } }",
        {"id": auction},
    )
    assert body["data"]["auction"] == {
        "bidCount": 2,
        "currentPrice": {"amount": "250.00"},
        "leader": {"id": c.id},
        "bids": {"totalCount": 2},
    }
    voided = await rows(
        app,
        "SELECT sequence, voided_at IS NOT NULL AS v, retracted_at IS NULL AS r FROM bids"
        " WHERE auction_id = :a ORDER BY sequence",
        a=auction,
    )
    assert [(r.sequence, r.v, r.r) for r in voided] == [
        (1, True, True),
        (2, False, True),
        (3, False, True),
        (4, True, True),
    ]
    (row,) = await rows(
        app,
        "SELECT current_price, leader_id, bid_count, last_sequence FROM auctions WHERE id = :a",
        a=auction,
    )
    assert (row.current_price, str(row.leader_id), row.bid_count, row.last_sequence) == (
        25000,
        c.id,
        2,
        5,
    )
    assert "BIDS_VOIDED" in await notes_of(app, a, auction)
    assert "LEADING_AGAIN" in await notes_of(app, c, auction)
    assert "BIDS_VOIDED" not in await notes_of(app, b, auction)
    (audit,) = await rows(
        app,
        "SELECT actor_id, details FROM audit_log WHERE action = 'void_bids' AND entity_id = :a",
        a=auction,
    )
    assert str(audit.actor_id) == str(admin.id)
    assert audit.details["reason"] == "shill ring"
    assert audit.details["before"]["price"] == 25500 and audit.details["after"]["price"] == 25000
    assert audit.details["voided"] == [1, 4]

    # The recomputed slot goes on with the rebuilt proxy state: b's ceiling (200) is gone
    # from the lead, c leads at 250 with ceiling 250.
    again = await bid(gql, b, auction, "255")
    assert again["leading"] is True and again["auction"]["currentPrice"]["amount"] == "255.00"
    # Voiding again finds nothing of a's: NO_BIDS, no event, nothing changes.
    (before,) = await app.state.deps.slots.live([uuid.UUID(auction)])
    with pytest.raises(InvalidState) as empty:
        await bid_voiding.void_bids(
            app.state.deps, admin, uuid.UUID(a.id), uuid.UUID(auction), reason="again"
        )
    assert empty.value.code == "NO_BIDS"
    (after,) = await app.state.deps.slots.live([uuid.UUID(auction)])
    assert after.sequence == before.sequence


async def test_void_without_an_auction_covers_every_active_auction(gql, app, seller, bidders):
    a, b, _ = bidders
    admin = await user_row(app, await register(gql), admin=True)
    first = await live_auction(gql, seller)
    second = await live_auction(gql, seller)
    await bid(gql, a, first, "100")
    await bid(gql, b, first, "110")
    await bid(gql, a, second, "120")
    await app.state.persister.drain([first, second])
    report = await bid_voiding.void_bids(app.state.deps, admin, uuid.UUID(a.id), reason="fraud")
    got = {str(r.auction_id): (r.voided, r.after.bid_count) for r in report.auctions}
    assert got == {first: ([1], 1), second: ([1], 0)}


async def test_a_non_admin_cannot_void_and_nothing_changes(gql, app, seller, bidders):
    a, b, _ = bidders
    auction = await live_auction(gql, seller)
    await bid(gql, a, auction, "100")
    for who in (await user_row(app, b), await user_row(app, seller)):
        with pytest.raises(Forbidden):
            await bid_voiding.void_bids(
                app.state.deps, who, uuid.UUID(a.id), uuid.UUID(auction), reason="x"
            )
    (live,) = await app.state.deps.slots.live([uuid.UUID(auction)])
    assert live.sequence == 1 and live.bid_count == 1 and str(live.leader_id) == a.id


async def test_a_bid_arriving_during_a_void_is_not_lost(gql, app, seller, bidders, monkeypatch):
    """The slot moved between reading the bids and the recompute: the script refuses, the
    use case reads again, and the bid that arrived is replayed with the rest."""
    a, b, c = bidders
    admin = await user_row(app, await register(gql), admin=True)
    auction = await live_auction(gql, seller, startingPrice="100")
    await bid(gql, a, auction, "100", "500")
    await bid(gql, b, auction, "150")
    slots: AuctionSlots = app.state.deps.slots
    real = slots.recompute
    calls: list[Any] = []

    async def with_a_bid_first(auction_id: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["expected_sequence"])
        if len(calls) == 1:  # a real bid lands between the read and the script
            placed = await slots.bid(uuid.UUID(auction), uuid.UUID(c.id), 30000, None, None)
            assert isinstance(placed, BidApplied), placed
        return await real(auction_id, **kwargs)

    monkeypatch.setattr(slots, "recompute", with_a_bid_first)
    report = await bid_voiding.void_bids(
        app.state.deps, admin, uuid.UUID(b.id), uuid.UUID(auction), reason="x"
    )
    assert calls == [2, 3]
    (done,) = report.auctions
    assert done.voided == [2] and done.sequence == 4
    model = English(seller=seller.id, start=10000)
    model.bid(a.id, 10000, 50000)
    model.bid(c.id, 30000)
    assert (done.after.price, str(done.after.leader_id), done.after.bid_count) == (
        model.price,
        model.leader,
        model.bids,
    )
    events = await slots.events_since(uuid.UUID(auction), 0)
    assert [e.kind.value for e in events] == [
        "BID_ACCEPTED",
        "BID_ACCEPTED",
        "BID_ACCEPTED",
        "BIDS_VOIDED",
    ]
    assert isinstance(events[2], BidAccepted) and events[2].bidder == c.id
    assert isinstance(events[3], BidsVoided) and events[3].price == model.price


async def test_only_active_auctions_are_voided(gql, app, seller, bidders):
    a = bidders[0]
    admin = await user_row(app, await register(gql), admin=True)
    auction = await live_auction(gql, seller)
    await bid(gql, a, auction, "100")
    await listings.cancel_auction(app.state.deps, admin, uuid.UUID(auction), "stop")
    with pytest.raises(InvalidState) as refused:
        await bid_voiding.void_bids(
            app.state.deps, admin, uuid.UUID(a.id), uuid.UUID(auction), reason="x"
        )
    assert refused.value.code == "AUCTION_NOT_ACTIVE"
    with pytest.raises(ValidationFailed):
        await bid_voiding.void_bids(
            app.state.deps, admin, uuid.UUID(a.id), uuid.UUID(auction), reason="  "
        )


# -- retraction ---------------------------------------------------------------------------


async def retract(gql, who: Account, auction: str) -> dict[str, Any]:
    body = await gql(RETRACT, {"id": auction}, token=who.token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["retractBid"]
    return result


async def test_more_than_12_hours_before_the_end_every_bid_is_retracted(gql, app, seller, bidders):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, endsAt=iso(timedelta(hours=13)))
    await bid(gql, a, auction, "100")
    await bid(gql, b, auction, "110")
    await bid(gql, a, auction, "120")
    done = await retract(gql, a, auction)
    assert done["errors"] == []
    assert done["result"]["voidedSequences"] == [1, 3]
    assert done["result"]["after"] == {
        "price": {"amount": "110.00"},
        "leaderId": b.id,
        "bidCount": 1,
    }
    assert done["auction"]["bidCount"] == 1 and done["auction"]["leader"]["id"] == b.id
    retracted = await rows(
        app,
        "SELECT sequence FROM bids WHERE auction_id = :a AND retracted_at IS NOT NULL"
        " AND voided_at IS NOT NULL ORDER BY sequence",
        a=auction,
    )
    assert [r.sequence for r in retracted] == [1, 3]
    (count,) = await rows(app, "SELECT retraction_count FROM users WHERE id = :u", u=a.id)
    assert count.retraction_count == 1
    assert "BIDS_RETRACTED" in await notes_of(app, a, auction)
    assert "LEADING_AGAIN" in await notes_of(app, b, auction)
    assert await rows(
        app, "SELECT 1 FROM audit_log WHERE action = 'retract_bids' AND entity_id = :a", a=auction
    )


async def test_within_12_hours_only_the_latest_bid_within_an_hour(gql, app, seller, bidders):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, endsAt=iso(timedelta(hours=11)))
    await bid(gql, a, auction, "100")
    await bid(gql, b, auction, "110")
    await bid(gql, a, auction, "120")
    done = await retract(gql, a, auction)
    assert done["errors"] == []
    # Not the earlier bid: only the latest (sequence 3) goes; a's first bid stays.
    assert done["result"]["voidedSequences"] == [3]
    assert done["result"]["after"]["leaderId"] == b.id
    assert done["result"]["after"]["bidCount"] == 2


async def test_within_12_hours_the_latest_bid_older_than_an_hour_stays(
    gql, app, seller, bidders, monkeypatch
):
    a = bidders[0]
    auction = await live_auction(gql, seller, endsAt=iso(timedelta(hours=11)))
    await bid(gql, a, auction, "100")
    deps = app.state.deps
    later = deps.clock() + timedelta(minutes=61)
    monkeypatch.setattr(deps, "clock", lambda: later)
    done = await retract(gql, a, auction)
    assert done["result"] is None
    assert done["errors"][0]["code"] == "RETRACTION_NOT_ALLOWED"
    assert "TOO_LATE" in done["errors"][0]["message"]
    (live,) = await deps.slots.live([uuid.UUID(auction)])
    assert live.sequence == 1 and live.bid_count == 1


async def test_another_user_cannot_retract_your_bids(gql, app, seller, bidders):
    a, b, _ = bidders
    auction = await live_auction(gql, seller, endsAt=iso(timedelta(hours=13)))
    await bid(gql, a, auction, "100")
    refused = await retract(gql, b, auction)
    assert refused["errors"][0]["code"] == "RETRACTION_NOT_ALLOWED"
    assert "NO_BIDS" in refused["errors"][0]["message"]
    seller_try = await retract(gql, seller, auction)
    assert seller_try["errors"][0]["code"] == "RETRACTION_NOT_ALLOWED"
    (live,) = await app.state.deps.slots.live([uuid.UUID(auction)])
    assert live.sequence == 1 and str(live.leader_id) == a.id
    anonymous = await gql(RETRACT, {"id": auction})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    with pytest.raises(RetractionNotAllowed):
        await bid_voiding.retract_bids(app.state.deps, await user_row(app, b), uuid.UUID(auction))


async def test_retracting_on_an_unknown_or_ended_auction(gql, app, seller, bidders):
    a = bidders[0]
    missing = await retract(gql, a, str(uuid.uuid4()))
    assert missing["errors"][0]["code"] == "NOT_FOUND"
    bad = await gql(RETRACT, {"id": "not-an-id"}, token=a.token)
    assert bad["data"]["retractBid"]["errors"][0]["code"] == "INVALID_ID", bad
    ended = await live_auction(gql, seller, endsAt=iso(timedelta(hours=13)))
    await bid(gql, a, ended, "100")
    await app.state.redis.hset(f"gavel:{{{ended}}}:state", "ends_ms", "1")
    late = await retract(gql, a, ended)
    assert late["errors"][0]["code"] == "AUCTION_ENDED"


async def test_sealed_void_keeps_each_bidders_latest_remaining_bid(gql, app, seller, bidders):
    a, b, _ = bidders
    admin = await user_row(app, await register(gql), admin=True)
    auction = await live_auction(
        gql, seller, type="SEALED_FIRST_PRICE", endsAt=iso(timedelta(hours=13))
    )
    for who, amount in ((a, "150"), (b, "200"), (a, "250"), (b, "300")):
        assert (await bid(gql, who, auction, amount))["__typename"] == "BidAccepted"
    done = await retract(gql, b, auction)  # more than 12 h before the end: all of b's
    assert done["errors"] == [] and done["result"]["voidedSequences"] == [2, 4]
    assert done["result"]["after"] == {"price": None, "leaderId": None, "bidCount": 2}
    sealed = await app.state.redis.hgetall(f"gavel:{{{auction}}}:sealed")
    assert sealed == {a.id: "25000:3"}
    report = await bid_voiding.void_bids(
        app.state.deps, admin, uuid.UUID(a.id), uuid.UUID(auction), reason="ring"
    )
    assert report.auctions[0].voided == [1, 3] and report.auctions[0].after.bid_count == 0
    assert await app.state.redis.hgetall(f"gavel:{{{auction}}}:sealed") == {}
