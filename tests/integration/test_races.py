"""No check-then-act: two use cases racing on one auction always leave one consistent story.

Each test fires two (or more) operations together with `asyncio.gather`, many times on
fresh auctions, and checks an invariant over the three records that must agree: the
slot's event stream (the outbox), the slot's state, and the PostgreSQL row.

SPEC section 3: a seller cancels only before the first bid; an admin cancels any auction
(bids voided, bidders notified); a scheduled auction's terms may change until it starts.
Section 4: bids and buy-now are decided atomically in the slot.

Two app instances share one private PostgreSQL database and one private Redis (no other
process takes part); neither runs a scheduler, so each test decides when activation and
closing happen. Each has its own persister, as two app processes would.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from devservers.stack import StackUrls
from domain.enums import AuctionType, ItemCondition
from domain.errors import DomainError
from domain.listing import ListingChanges, ListingInput
from gavel_app import create_app
from realtime.events import public
from realtime.slots import ENDS_ZSET, keys
from realtime.stream import View
from services import bidding, listings
from services.deps import Deps
from settings import Settings
from storage.tables import Auction, User
from tests.conftest import create_database, migrate

pytestmark = pytest.mark.slow

TRIES = 20


@dataclass(frozen=True)
class Pair:
    one: FastAPI
    two: FastAPI

    @property
    def deps(self) -> Deps:
        deps: Deps = self.one.state.deps
        return deps

    @property
    def other(self) -> Deps:
        deps: Deps = self.two.state.deps
        return deps


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(
        tmp_path_factory.mktemp("races-redis"), free_port(), appendfsync="no"
    ) as server:
        yield server


@pytest.fixture(scope="module")
async def pair(
    stack: StackUrls, own_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    database = await create_database(stack.database_url, f"gavel_races_{uuid.uuid4().hex[:8]}")
    await migrate(database)
    secret = secrets.token_urlsafe(48)

    def app() -> FastAPI:
        return create_app(
            Settings(
                DATABASE_URL=database,
                REDIS_URL=own_redis.url,
                GAVEL_JWT_SECRET=secret,
                GAVEL_DATA_DIR=tmp_path_factory.mktemp("races-data"),
                GAVEL_MIN_AUCTION_SECONDS=2,
                GAVEL_RUN_SCHEDULER=False,  # the tests run activation and closing passes
            ),
            fast_hash=True,
        )

    one, two = app(), app()
    async with one.router.lifespan_context(one), two.router.lifespan_context(two):
        yield Pair(one, two)


async def _users(deps: Deps, count: int, *roles: str) -> list[User]:
    password = deps.hasher.hash_sync("not used here")
    users = [
        User(
            username=f"r{uuid.uuid4().hex[:12]}",
            email=f"{uuid.uuid4().hex}@example.com",
            password_hash=password,
            roles=["BIDDER", *roles],
        )
        for _ in range(count)
    ]
    async with deps.uow() as uow:
        uow.session.add_all(users)
        await uow.commit()
    return users


def _listing(**overrides: Any) -> ListingInput:
    base: dict[str, Any] = {
        "title": "Racing pigeon clock",
        "description": "Two things at once.",
        "category": "collectibles",
        "condition": ItemCondition.USED,
        "type": AuctionType.ENGLISH,
        "currency": "USD",
        "starting_price": Decimal("10"),
        "ends_at": datetime.now(UTC) + timedelta(hours=3),
    }
    base.update(overrides)
    return ListingInput(**base)


async def _draft(deps: Deps, seller: User, **overrides: Any) -> uuid.UUID:
    auction = await listings.create_auction(deps, seller, _listing(**overrides))
    return auction.id


async def _live(deps: Deps, seller: User, **overrides: Any) -> uuid.UUID:
    auction_id = await _draft(deps, seller, **overrides)
    published = await listings.publish_auction(deps, seller, auction_id)
    assert published.status == "ACTIVE"
    return auction_id


async def _scheduled_and_due(deps: Deps, seller: User, **overrides: Any) -> uuid.UUID:
    """A SCHEDULED auction whose start has just passed: the scheduler's next pass starts it."""
    starts = datetime.now(UTC) + timedelta(hours=1)
    auction_id = await _draft(deps, seller, starts_at=starts, **overrides)
    published = await listings.publish_auction(deps, seller, auction_id)
    assert published.status == "SCHEDULED"
    await _make_due(deps, auction_id)
    return auction_id


async def _sql(deps: Deps, sql: str, **params: Any) -> list[Any]:
    async with deps.uow() as uow:
        result = await (await uow.session.connection()).execute(text(sql), params)
        rows = list(result.all()) if result.returns_rows else []
        await uow.commit()
    return rows


async def _make_due(deps: Deps, auction_id: uuid.UUID) -> None:
    await _sql(
        deps,
        "UPDATE auctions SET starts_at = now() - interval '1 second' WHERE id = :a",
        a=auction_id,
    )


async def _jitter() -> None:
    """A random head start of 0-3 ms, so both orders (and the overlaps) get their turn."""
    await asyncio.sleep(random.random() * 0.003)


async def _outcome(step: Awaitable[Any]) -> Any:
    await _jitter()
    try:
        return await step
    except DomainError as err:
        return err


async def _row(deps: Deps, auction_id: uuid.UUID) -> Auction:
    async with deps.uow() as uow:
        row = await uow.session.get(Auction, auction_id)
    assert row is not None
    return row


async def _slot(deps: Deps, auction_id: uuid.UUID) -> dict[str, str]:
    state: dict[str, str] = await deps.slots.redis.hgetall(keys(auction_id)[0])
    return state


async def _kinds(deps: Deps, auction_id: uuid.UUID) -> list[str]:
    return [e["kind"] for e in await deps.slots.events_since(auction_id, 0)]


async def _settled(pair: Pair, auction_id: uuid.UUID, status: str) -> Auction:
    """The row once both persisters have recorded the slot's final event."""
    deadline = time.monotonic() + 10
    while True:
        for deps in (pair.deps, pair.other):
            assert deps.drain is not None
            await deps.drain([str(auction_id)])
        row = await _row(pair.deps, auction_id)
        if row.status == status:
            return row
        assert time.monotonic() < deadline, f"the row stayed {row.status}, not {status}"
        await asyncio.sleep(0.05)


async def _bid(deps: Deps, bidder: User, auction_id: uuid.UUID, amount: str) -> Any:
    return await bidding.place_bid(deps, bidder, auction_id, Decimal(amount), None, None)


# --- cancel vs bid ---------------------------------------------------------------------


async def test_a_seller_cancel_never_lands_after_a_first_bid(pair: Pair):
    """The issue's probe: cancelAuction and three first bids at once."""
    deps = pair.deps
    seller, *bidders = await _users(deps, 4, "SELLER")
    for _ in range(TRIES):
        auction_id = await _live(deps, seller)
        cancel, *bids = await asyncio.gather(
            _outcome(listings.cancel_auction(deps, seller, auction_id, "changed my mind")),
            *(_outcome(_bid(deps, b, auction_id, "10")) for b in bidders),
        )
        kinds = await _kinds(deps, auction_id)
        accepted = [b for b in bids if isinstance(b, bidding.Accepted)]
        if accepted:
            assert "CANCELLED" not in kinds, kinds
            assert isinstance(cancel, DomainError) and cancel.code == "FORBIDDEN", cancel
            assert (await _slot(deps, auction_id))["status"] == "ACTIVE"
            assert (await _row(deps, auction_id)).status == "ACTIVE"
        else:
            assert kinds == ["CANCELLED"]
            assert isinstance(cancel, Auction) and cancel.status == "CANCELLED"
            assert {b.reason for b in bids} == {"AUCTION_NOT_ACTIVE"}, bids
            assert (await _slot(deps, auction_id))["status"] == "CANCELLED"
            await _settled(pair, auction_id, "CANCELLED")


async def test_an_admin_cancel_racing_bids_voids_every_bid_it_stops(pair: Pair):
    deps = pair.deps
    (seller,), (admin,), bidders = (
        await _users(deps, 1, "SELLER"),
        await _users(deps, 1, "ADMIN"),
        await _users(deps, 3),
    )
    for _ in range(TRIES // 2):
        auction_id = await _live(deps, seller)
        cancel, *bids = await asyncio.gather(
            _outcome(listings.cancel_auction(deps, admin, auction_id, "counterfeit")),
            *(_outcome(_bid(deps, b, auction_id, str(10 + i))) for i, b in enumerate(bidders)),
        )
        assert isinstance(cancel, Auction) and cancel.status == "CANCELLED", cancel
        kinds = await _kinds(deps, auction_id)
        assert kinds[-1] == "CANCELLED" and kinds.count("CANCELLED") == 1, kinds
        await _settled(pair, auction_id, "CANCELLED")
        stored = await _sql(
            deps, "SELECT bidder_id, voided_at FROM bids WHERE auction_id = :a", a=auction_id
        )
        told = await _sql(
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
    row = await _settled(pair, auction_id, "CANCELLED")
    slot = await _slot(deps, auction_id)
    assert not slot or slot["status"] == "CANCELLED", (row.status, slot.get("status"))
    (late,) = await _users(deps, 1)
    after = await _bid(deps, late, auction_id, "10")
    assert isinstance(after, bidding.Rejected), "a cancelled auction took a bid"
    assert after.reason == "AUCTION_NOT_ACTIVE"


async def test_a_cancel_racing_the_activation_leaves_no_live_slot(pair: Pair):
    deps = pair.deps
    (seller,) = await _users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await _scheduled_and_due(deps, seller)
        cancel, _ = await asyncio.gather(
            _outcome(listings.cancel_auction(deps, seller, auction_id, None)),
            _outcome(pair.two.state.scheduler.activate_due()),
        )
        assert isinstance(cancel, Auction), cancel  # no bids: the seller may cancel
        await _no_live_slot_for_a_cancelled_row(pair, auction_id)


async def test_a_cancel_racing_an_immediate_publish_leaves_no_live_slot(pair: Pair):
    deps = pair.deps
    (seller,) = await _users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await _draft(deps, seller)
        cancel, publish = await asyncio.gather(
            _outcome(listings.cancel_auction(deps, seller, auction_id, None)),
            _outcome(listings.publish_auction(pair.other, seller, auction_id)),
        )
        assert isinstance(cancel, Auction), cancel
        assert isinstance(publish, Auction) or publish.code == "INVALID_STATE", publish
        await _no_live_slot_for_a_cancelled_row(pair, auction_id)


async def test_a_cancel_racing_the_close_is_either_a_cancel_or_an_end(pair: Pair):
    """The other process closes the auction (and its persister records the end)."""
    deps = pair.deps
    (seller,), (admin,), (bidder,) = (
        await _users(deps, 1, "SELLER"),
        await _users(deps, 1, "ADMIN"),
        await _users(deps, 1),
    )
    closer = pair.two.state.scheduler
    for _ in range(TRIES):
        auction_id = await _live(deps, seller, soft_close_window_seconds=0)
        assert isinstance(await _bid(deps, bidder, auction_id, "10"), bidding.Accepted)
        # Its time is up: the next closing pass ends it.
        past = int(time.time() * 1000) - 1
        await deps.slots.redis.hset(keys(auction_id)[0], "ends_ms", str(past))
        await deps.slots.redis.zadd(ENDS_ZSET, {str(auction_id): past})
        cancel, _ = await asyncio.gather(
            _outcome(listings.cancel_auction(deps, admin, auction_id, "fake")),
            _outcome(closer.close_due()),
        )
        kinds = await _kinds(deps, auction_id)
        slot = await _slot(deps, auction_id)
        if isinstance(cancel, Auction):
            assert kinds == ["BID_ACCEPTED", "CANCELLED"], kinds
            assert slot["status"] == "CANCELLED"
            row = await _settled(pair, auction_id, "CANCELLED")
        else:
            assert cancel.code == "INVALID_STATE", cancel
            assert kinds == ["BID_ACCEPTED", "ENDED"], kinds
            assert slot["status"] == "ENDED"
            row = await _settled(pair, auction_id, "ENDED")
        await asyncio.sleep(0.05)  # any late write of the other process
        assert (await _row(deps, auction_id)).status == row.status


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
    row = await _row(deps, auction_id)
    slot = await _slot(deps, auction_id)
    if row.status == "ACTIVE":
        assert _slot_terms(slot) == _terms(row), "the slot was seeded from stale terms"
    else:
        assert not slot, "a slot for an auction that is not active"
    return row


async def test_an_update_racing_the_activation_lands_before_it_or_not_at_all(pair: Pair):
    deps = pair.deps
    (seller,) = await _users(deps, 1, "SELLER")
    later = datetime.now(UTC) + timedelta(minutes=30)
    changes = ListingChanges(
        starting_price=NEW_TERMS.starting_price,
        reserve_price=NEW_TERMS.reserve_price,
        buy_now_price=NEW_TERMS.buy_now_price,
        starts_at=later,  # postponing a start that just passed is still an edit
        ends_at=later + timedelta(hours=1),
    )
    for _ in range(TRIES):
        auction_id = await _scheduled_and_due(deps, seller)
        update, _ = await asyncio.gather(
            _outcome(listings.update_auction(deps, seller, auction_id, changes)),
            _outcome(pair.two.state.scheduler.activate_due()),
        )
        row = await _slot_matches_row(deps, auction_id)
        if isinstance(update, Auction):
            assert row.status == "SCHEDULED" and row.starting_price == 2000
            await _make_due(deps, auction_id)  # it starts later, on the updated terms
            await pair.two.state.scheduler.activate_due()
            row = await _slot_matches_row(deps, auction_id)
            assert row.status == "ACTIVE" and row.starting_price == 2000
        else:
            assert update.code == "INVALID_STATE", update
            assert row.status == "ACTIVE" and row.starting_price == 1000


async def test_an_update_racing_a_publish_is_seeded_into_the_slot_or_refused(pair: Pair):
    deps = pair.deps
    (seller,) = await _users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await _draft(deps, seller)
        update, publish = await asyncio.gather(
            _outcome(listings.update_auction(deps, seller, auction_id, NEW_TERMS)),
            _outcome(listings.publish_auction(pair.other, seller, auction_id)),
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
    (seller,) = await _users(deps, 1, "SELLER")
    for _ in range(TRIES):
        auction_id = await _draft(deps, seller)
        results = await asyncio.gather(
            _outcome(listings.publish_auction(deps, seller, auction_id)),
            _outcome(listings.publish_auction(pair.other, seller, auction_id)),
        )
        published = [r for r in results if isinstance(r, Auction)]
        assert len(published) == 1, results
        assert [r.code for r in results if isinstance(r, DomainError)] == ["INVALID_STATE"]
        await _slot_matches_row(deps, auction_id)
        assert await _kinds(deps, auction_id) == []


# --- buy-now vs bid --------------------------------------------------------------------


async def test_buy_now_racing_bids_is_decided_in_one_order(pair: Pair):
    """Both run in the bid script; whichever Redis runs first decides the other."""
    deps = pair.deps
    (seller,), (buyer, *bidders) = await _users(deps, 1, "SELLER"), await _users(deps, 3)
    for _ in range(TRIES):
        auction_id = await _live(deps, seller, buy_now_price=Decimal("90"))
        bought, *bids = await asyncio.gather(
            _outcome(
                bidding.place_bid(pair.other, buyer, auction_id, None, None, None, buy_now=True)
            ),
            *(_outcome(_bid(deps, b, auction_id, "10")) for b in bidders),
        )
        events = await deps.slots.events_since(auction_id, 0)
        kinds = [e["kind"] for e in events]
        if isinstance(bought, bidding.Accepted):
            # Open only before the first bid (no reserve): it is the first and last bid.
            assert kinds == ["BID_ACCEPTED", "ENDED"] and events[0].get("buy_now"), kinds
            assert all(isinstance(b, bidding.Rejected) for b in bids), bids
            assert {b.reason for b in bids} == {"AUCTION_ENDED"}, bids
        else:
            assert bought.reason == "AUCTION_NOT_ACTIVE", bought
            assert kinds[0] == "BID_ACCEPTED" and "ENDED" not in kinds, kinds


# --- watch vs unwatch ------------------------------------------------------------------


async def test_watch_and_unwatch_at_once_leave_one_answer(pair: Pair):
    deps = pair.deps
    (seller,), (watcher,) = await _users(deps, 1, "SELLER"), await _users(deps, 1)
    auction_id = await _live(deps, seller)
    for _ in range(TRIES):
        results = await asyncio.gather(
            _outcome(listings.watch(deps, watcher, auction_id)),
            _outcome(listings.unwatch(pair.other, watcher, auction_id)),
            _outcome(listings.watch(pair.other, watcher, auction_id)),
        )
        assert all(r is None for r in results), results
        ((count,),) = await _sql(
            deps, "SELECT count(*) FROM watchlist WHERE auction_id = :a", a=auction_id
        )
        assert count in (0, 1)


# --- item 9: a bid never uses or returns stale auction facts ---------------------------

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
    (seller,), (early, bidder, buyer) = await _users(deps, 1, "SELLER"), await _users(deps, 3)
    auction_id = await _draft(
        deps,
        seller,
        starts_at=datetime.now(UTC) + timedelta(hours=1),
        reserve_price=Decimal("15"),
        buy_now_price=Decimal("40"),
    )
    await listings.publish_auction(deps, seller, auction_id)
    too_early = await _bid(deps, early, auction_id, "10")
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
    await _make_due(other, auction_id)
    scheduler = pair.one.state.scheduler if other is deps else pair.two.state.scheduler
    assert await scheduler.activate_due() == 1

    # The slot decides on the new terms: the old starting price is too low now.
    low = await _bid(deps, bidder, auction_id, "10")
    assert isinstance(low, bidding.Rejected) and low.minimum_next_bid == 2000, low
    placed = await _bid(deps, bidder, auction_id, "20")
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
    (seller,), (bidder,) = await _users(deps, 1, "SELLER"), await _users(deps, 1)
    auction_id = await _draft(
        deps,
        seller,
        type=AuctionType.SEALED_FIRST_PRICE,
        starts_at=datetime.now(UTC) + timedelta(hours=1),
        reserve_price=Decimal("15"),
        soft_close_window_seconds=None,
        soft_close_extension_seconds=None,
    )
    await listings.publish_auction(deps, seller, auction_id)
    view = View(await _row(deps, auction_id))  # a subscriber's feed, started while SCHEDULED
    await listings.update_auction(
        pair.other, seller, auction_id, ListingChanges(reserve_price=Decimal("50"))
    )
    await _make_due(deps, auction_id)
    assert await pair.two.state.scheduler.activate_due() == 1
    assert isinstance(await _bid(deps, bidder, auction_id, "30"), bidding.Accepted)

    await deps.slots.redis.hset(keys(auction_id)[0], "ends_ms", str(int(time.time() * 1000) - 1))
    closed = await deps.slots.close(auction_id)
    assert closed.get("ended"), closed
    shown = view.present(closed["event"])
    assert (shown["price"], shown["leader_id"]) == (None, None), "sold below the new reserve"
    assert "reserve" not in public(closed["event"], auction_id, sealed=True)
    row = await _settled(pair, auction_id, "ENDED")
    assert (row.outcome, row.winner_id) == ("UNSOLD", None)


async def test_two_cancels_at_once_cancel_once(pair: Pair):
    deps = pair.deps
    (seller,), (admin,) = await _users(deps, 1, "SELLER"), await _users(deps, 1, "ADMIN")
    for _ in range(TRIES // 2):
        auction_id = await _live(deps, seller)
        results = await asyncio.gather(
            _outcome(listings.cancel_auction(deps, seller, auction_id, "mine")),
            _outcome(listings.cancel_auction(pair.other, admin, auction_id, "admin")),
        )
        assert sorted(type(r).__name__ for r in results) == ["Auction", "InvalidState"], results
        assert await _kinds(deps, auction_id) == ["CANCELLED"]
        await _no_live_slot_for_a_cancelled_row(pair, auction_id)


async def test_a_retried_bid_shows_the_terms_after_a_rebuild_and_from_an_older_answer(
    pair: Pair,
):
    """The first answer is replayed: from a slot rebuilt out of PostgreSQL, and from an
    answer remembered before answers carried the terms."""
    deps = pair.deps
    (seller,), (bidder,) = await _users(deps, 1, "SELLER"), await _users(deps, 1)
    auction_id = await _live(deps, seller, reserve_price=Decimal("50"), buy_now_price=Decimal("90"))
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
    assert deps.drain is not None
    await deps.drain([str(auction_id)])
    await deps.slots.redis.delete(state, events, idem, sealed)
    seen = await retry()
    assert (seen.starting_price, seen.reserve_price, seen.buy_now_price) == expected
    assert seen.starts_at == first.starts_at and seen.ends_at == first.ends_at
