"""No check-then-act: two use cases racing on one auction leave one consistent story
(issue 12, item 8).

Each test fires two (or more) operations together with `asyncio.gather`, many times on
fresh auctions, and checks an invariant over the three records that must agree: the
slot's event stream (the outbox), the slot's state, and the PostgreSQL row.

SPEC section 3: a seller cancels only before the first bid; an admin cancels any auction
(bids voided, bidders notified); a scheduled auction's terms may change until it starts.
Section 4: bids and buy-now are decided atomically in the slot.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import DomainError
from domain.events import BidAccepted
from domain.listing import ListingChanges
from realtime.slots import ENDS_ZSET, keys
from services import bidding, listings
from services.deps import Deps
from storage.tables import Auction
from tests.integration import race_kit
from tests.integration.race_kit import (
    TRIES,
    Pair,
    event_kinds,
    make_due,
    make_users,
    new_draft,
    new_due,
    new_live,
    outcome,
    place,
    run_sql,
    settled,
    slot_state,
    stored_row,
)

pytestmark = pytest.mark.slow
own_redis, pair = race_kit.own_redis, race_kit.pair  # the module's two app instances


# --- cancel vs bid ---------------------------------------------------------------------


async def test_a_seller_cancel_never_lands_after_a_first_bid(pair: Pair):
    """The issue's probe: cancelAuction and three first bids at once."""
    deps = pair.deps
    seller, *bidders = await make_users(deps, 4, "SELLER")
    for _ in range(TRIES):
        auction_id = await new_live(deps, seller)
        cancel, *bids = await asyncio.gather(
            outcome(listings.cancel_auction(deps, seller, auction_id, "changed my mind")),
            *(outcome(place(deps, b, auction_id, "10")) for b in bidders),
        )
        kinds = await event_kinds(deps, auction_id)
        accepted = [b for b in bids if isinstance(b, bidding.Accepted)]
        if accepted:
            assert "CANCELLED" not in kinds, kinds
            assert isinstance(cancel, DomainError) and cancel.code == "FORBIDDEN", cancel
            assert (await slot_state(deps, auction_id))["status"] == "ACTIVE"
            assert (await stored_row(deps, auction_id)).status == "ACTIVE"
        else:
            assert kinds == ["CANCELLED"]
            assert isinstance(cancel, Auction) and cancel.status == "CANCELLED"
            assert {b.reason for b in bids} == {"AUCTION_NOT_ACTIVE"}, bids
            assert (await slot_state(deps, auction_id))["status"] == "CANCELLED"
            await settled(pair, auction_id, "CANCELLED")


async def test_an_admin_cancel_racing_bids_voids_every_bid_it_stops(pair: Pair):
    deps = pair.deps
    (seller,), (admin,), bidders = (
        await make_users(deps, 1, "SELLER"),
        await make_users(deps, 1, "ADMIN"),
        await make_users(deps, 3),
    )
    for _ in range(TRIES // 2):
        auction_id = await new_live(deps, seller)
        cancel, *bids = await asyncio.gather(
            outcome(listings.cancel_auction(deps, admin, auction_id, "counterfeit")),
            *(outcome(place(deps, b, auction_id, str(10 + i))) for i, b in enumerate(bidders)),
        )
        assert isinstance(cancel, Auction) and cancel.status == "CANCELLED", cancel
        kinds = await event_kinds(deps, auction_id)
        assert kinds[-1] == "CANCELLED" and kinds.count("CANCELLED") == 1, kinds
        await settled(pair, auction_id, "CANCELLED")
        stored = await run_sql(
            deps, "SELECT bidder_id, voided_at FROM bids WHERE auction_id = :a", a=auction_id
        )
        told = await run_sql(
            deps,
            "SELECT user_id FROM notifications"
            " WHERE auction_id = :a AND kind = 'AUCTION_CANCELLED'",
            a=auction_id,
        )
        accepted = {b.bid.bidder_id for b in bids if isinstance(b, bidding.Accepted)}
        assert len(stored) == kinds.count("BID_ACCEPTED") == len(accepted)
        assert all(voided is not None for _, voided in stored), "a bid survived the cancel"
        assert {user for (user,) in told} == accepted


# --- cancel vs activation, publish and close -------------------------------------------


async def _no_live_slot_for_a_cancelled_row(pair: Pair, auction_id: uuid.UUID) -> None:
    deps = pair.deps
    row = await settled(pair, auction_id, "CANCELLED")
    slot = await slot_state(deps, auction_id)
    assert not slot or slot["status"] == "CANCELLED", (row.status, slot.get("status"))
    (late,) = await make_users(deps, 1)
    after = await place(deps, late, auction_id, "10")
    assert isinstance(after, bidding.Rejected), "a cancelled auction took a bid"
    assert after.reason == "AUCTION_NOT_ACTIVE"


async def test_a_cancel_racing_the_activation_leaves_no_live_slot(pair: Pair):
    deps = pair.deps
    (seller,) = await make_users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await new_due(deps, seller)
        cancel, _ = await asyncio.gather(
            outcome(listings.cancel_auction(deps, seller, auction_id, None)),
            outcome(pair.two.state.scheduler.activate_due()),
        )
        assert isinstance(cancel, Auction), cancel  # no bids: the seller may cancel
        await _no_live_slot_for_a_cancelled_row(pair, auction_id)


async def test_a_cancel_racing_an_immediate_publish_leaves_no_live_slot(pair: Pair):
    deps = pair.deps
    (seller,) = await make_users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await new_draft(deps, seller)
        cancel, publish = await asyncio.gather(
            outcome(listings.cancel_auction(deps, seller, auction_id, None)),
            outcome(listings.publish_auction(pair.other, seller, auction_id)),
        )
        assert isinstance(cancel, Auction), cancel
        assert isinstance(publish, Auction) or publish.code == "INVALID_STATE", publish
        await _no_live_slot_for_a_cancelled_row(pair, auction_id)


async def test_a_cancel_racing_the_close_is_either_a_cancel_or_an_end(pair: Pair):
    """The other process closes the auction (and its persister records the end)."""
    deps = pair.deps
    (seller,), (admin,), (bidder,) = (
        await make_users(deps, 1, "SELLER"),
        await make_users(deps, 1, "ADMIN"),
        await make_users(deps, 1),
    )
    closer = pair.two.state.scheduler
    for _ in range(TRIES):
        auction_id = await new_live(deps, seller, soft_close_window_seconds=0)
        assert isinstance(await place(deps, bidder, auction_id, "10"), bidding.Accepted)
        # Its time is up: the next closing pass ends it.
        past = int(time.time() * 1000) - 1
        await deps.slots.redis.hset(keys(auction_id)[0], "ends_ms", str(past))
        await deps.slots.redis.zadd(ENDS_ZSET, {str(auction_id): past})
        cancel, _ = await asyncio.gather(
            outcome(listings.cancel_auction(deps, admin, auction_id, "fake")),
            outcome(closer.close_due()),
        )
        kinds = await event_kinds(deps, auction_id)
        slot = await slot_state(deps, auction_id)
        if isinstance(cancel, Auction):
            assert kinds == ["BID_ACCEPTED", "CANCELLED"], kinds
            assert slot["status"] == "CANCELLED"
            row = await settled(pair, auction_id, "CANCELLED")
        else:
            assert cancel.code == "INVALID_STATE", cancel
            assert kinds == ["BID_ACCEPTED", "ENDED"], kinds
            assert slot["status"] == "ENDED"
            row = await settled(pair, auction_id, "ENDED")
        await asyncio.sleep(0.05)  # any late write of the other process
        assert (await stored_row(deps, auction_id)).status == row.status


# --- publish / activation vs update ----------------------------------------------------

NEW_TERMS = ListingChanges(
    starting_price=Decimal("20"), reserve_price=Decimal("50"), buy_now_price=Decimal("90")
)


def _terms(row: Auction) -> tuple[Any, ...]:
    ends = row.ends_at.replace(microsecond=row.ends_at.microsecond // 1000 * 1000)  # slot: ms
    return (row.starting_price, row.reserve_price, row.buy_now_price, ends)


def _slot_terms(slot: dict[str, str]) -> tuple[Any, ...]:
    def opt(value: str) -> int | None:
        return int(value) if value else None

    ends = datetime.fromtimestamp(int(slot["ends_ms"]) / 1000, UTC)
    return (int(slot["start"]), opt(slot["reserve"]), opt(slot["buynow"]), ends)


async def _slot_matches_row(deps: Deps, auction_id: uuid.UUID) -> Auction:
    row = await stored_row(deps, auction_id)
    slot = await slot_state(deps, auction_id)
    if row.status == "ACTIVE":
        assert _slot_terms(slot) == _terms(row), "the slot was seeded from stale terms"
    else:
        assert not slot, "a slot for an auction that is not active"
    return row


async def test_an_update_racing_the_activation_lands_before_it_or_not_at_all(pair: Pair):
    deps = pair.deps
    (seller,) = await make_users(deps, 1, "SELLER")
    later = datetime.now(UTC) + timedelta(minutes=30)
    changes = ListingChanges(
        starting_price=NEW_TERMS.starting_price,
        reserve_price=NEW_TERMS.reserve_price,
        buy_now_price=NEW_TERMS.buy_now_price,
        starts_at=later,  # postponing a start that just passed is still an edit
        ends_at=later + timedelta(hours=1),
    )
    for _ in range(TRIES):
        auction_id = await new_due(deps, seller)
        update, _ = await asyncio.gather(
            outcome(listings.update_auction(deps, seller, auction_id, changes)),
            outcome(pair.two.state.scheduler.activate_due()),
        )
        row = await _slot_matches_row(deps, auction_id)
        if isinstance(update, Auction):
            assert row.status == "SCHEDULED" and row.starting_price == 2000
            await make_due(deps, auction_id)  # it starts later, on the updated terms
            await pair.two.state.scheduler.activate_due()
            row = await _slot_matches_row(deps, auction_id)
            assert row.status == "ACTIVE" and row.starting_price == 2000
        else:
            assert update.code == "INVALID_STATE", update
            assert row.status == "ACTIVE" and row.starting_price == 1000


async def test_an_update_racing_a_publish_is_seeded_into_the_slot_or_refused(pair: Pair):
    deps = pair.deps
    (seller,) = await make_users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await new_draft(deps, seller)
        update, publish = await asyncio.gather(
            outcome(listings.update_auction(deps, seller, auction_id, NEW_TERMS)),
            outcome(listings.publish_auction(pair.other, seller, auction_id)),
        )
        assert isinstance(publish, Auction), publish
        row = await _slot_matches_row(deps, auction_id)
        assert row.status == "ACTIVE"
        if isinstance(update, Auction):
            assert row.starting_price == 2000
        else:
            assert update.code == "INVALID_STATE" and row.starting_price == 1000, update


async def test_two_publishes_at_once_publish_once(pair: Pair):
    deps = pair.deps
    (seller,) = await make_users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await new_draft(deps, seller)
        results = await asyncio.gather(
            outcome(listings.publish_auction(deps, seller, auction_id)),
            outcome(listings.publish_auction(pair.other, seller, auction_id)),
        )
        published = [r for r in results if isinstance(r, Auction)]
        assert len(published) == 1, results
        assert [r.code for r in results if isinstance(r, DomainError)] == ["INVALID_STATE"]
        await _slot_matches_row(deps, auction_id)
        assert await event_kinds(deps, auction_id) == []


# --- buy-now vs bid --------------------------------------------------------------------


async def test_buy_now_racing_bids_is_decided_in_one_order(pair: Pair):
    """Both run in the bid script; whichever Redis runs first decides the other."""
    deps = pair.deps
    (seller,), (buyer, *bidders) = await make_users(deps, 1, "SELLER"), await make_users(deps, 3)
    for _ in range(TRIES):
        auction_id = await new_live(deps, seller, buy_now_price=Decimal("90"))
        bought, *bids = await asyncio.gather(
            outcome(
                bidding.place_bid(pair.other, buyer, auction_id, None, None, None, buy_now=True)
            ),
            *(outcome(place(deps, b, auction_id, "10")) for b in bidders),
        )
        events = await deps.slots.events_since(auction_id, 0)
        kinds = [e.kind.value for e in events]
        if isinstance(bought, bidding.Accepted):
            # Open only before the first bid (no reserve): it is the first and last bid.
            first = events[0]
            assert kinds == ["BID_ACCEPTED", "ENDED"] and isinstance(first, BidAccepted), kinds
            assert first.buy_now, first
            assert all(isinstance(b, bidding.Rejected) for b in bids), bids
            assert {b.reason for b in bids} == {"AUCTION_ENDED"}, bids
        else:
            assert bought.reason == "AUCTION_NOT_ACTIVE", bought
            assert kinds[0] == "BID_ACCEPTED" and "ENDED" not in kinds, kinds


# --- watch vs unwatch ------------------------------------------------------------------


async def test_watch_and_unwatch_at_once_leave_one_answer(pair: Pair):
    deps = pair.deps
    (seller,), (watcher,) = await make_users(deps, 1, "SELLER"), await make_users(deps, 1)
    auction_id = await new_live(deps, seller)
    for _ in range(TRIES):
        results = await asyncio.gather(
            outcome(listings.watch(deps, watcher, auction_id)),
            outcome(listings.unwatch(pair.other, watcher, auction_id)),
            outcome(listings.watch(pair.other, watcher, auction_id)),
        )
        assert all(r is None for r in results), results
        ((count,),) = await run_sql(
            deps, "SELECT count(*) FROM watchlist WHERE auction_id = :a", a=auction_id
        )
        assert count in (0, 1)


async def test_two_cancels_at_once_cancel_once(pair: Pair):
    deps = pair.deps
    (seller,), (admin,) = await make_users(deps, 1, "SELLER"), await make_users(deps, 1, "ADMIN")
    for _ in range(TRIES // 2):
        auction_id = await new_live(deps, seller)
        results = await asyncio.gather(
            outcome(listings.cancel_auction(deps, seller, auction_id, "mine")),
            outcome(listings.cancel_auction(pair.other, admin, auction_id, "admin")),
        )
        assert sorted(type(r).__name__ for r in results) == ["Auction", "InvalidState"], results
        assert await event_kinds(deps, auction_id) == ["CANCELLED"]
        await _no_live_slot_for_a_cancelled_row(pair, auction_id)
