"""Auctions and their bids: the stored row with the live slot's state on top."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from domain.enums import AuctionStatus as Status
from domain.enums import AuctionType as Type
from domain.outcome import FinalState, decide
from domain.pricing import dutch_price, english_minimum_next_bid
from realtime.slots import LiveState
from schema.connection import Connection, connection
from schema.context import Ctx
from schema.enums import AuctionOutcome, AuctionStatus, AuctionType
from schema.item_types import Item
from schema.money import Money
from schema.user_types import User, load_user, require_user
from services import catalog
from services.paging import Page
from storage import tables


def overlay(row: tables.Auction, live: LiveState) -> tables.Auction:
    """The stored auction with the slot's live state on top (the record lags by ms)."""
    update: dict[str, Any] = {
        "status": live.status,
        "leader_id": live.leader_id,
        "bid_count": live.bid_count,
        "last_sequence": live.sequence,
        "ends_at": live.ends_at,
        "current_price": None if Type(row.type).sealed else live.price,
    }
    if live.status == Status.ENDED.value and not Type(row.type).sealed:
        outcome = decide(
            FinalState(
                type=Type(row.type),
                starting_price=row.starting_price,
                reserve_price=row.reserve_price,
                price=live.price,
                leader=str(live.leader_id) if live.leader_id else None,
            )
        )
        update |= {
            "outcome": outcome.result.value,
            "final_price": outcome.price,
            "winner_id": uuid.UUID(outcome.winner) if outcome.winner else None,
        }
    return row.model_copy(update=update)


def _sealed_and_open(row: tables.Auction) -> bool:
    return Type(row.type).sealed and row.status != Status.ENDED.value


@strawberry.type
class Auction:
    row: strawberry.Private[tables.Auction]
    _live_row: strawberry.Private[tables.Auction | None] = None

    async def _current(self, info: Ctx) -> tables.Auction:
        """Live state for active auctions, loaded once per request in one batch."""
        if self.row.status != Status.ACTIVE.value:
            return self.row
        if self._live_row is None:
            live = await info.context.loaders.live.load(self.row.id)
            self._live_row = overlay(self.row, live) if live is not None else self.row
        return self._live_row

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def item(self, info: Ctx) -> Item:
        row = await info.context.loaders.items.load(self.row.item_id)
        assert row is not None
        return Item(row=row)

    @strawberry.field
    def type(self) -> AuctionType:
        return Type(self.row.type)

    @strawberry.field
    async def status(self, info: Ctx) -> AuctionStatus:
        return Status((await self._current(info)).status)

    @strawberry.field
    async def outcome(self, info: Ctx) -> AuctionOutcome | None:
        row = await self._current(info)
        return AuctionOutcome(row.outcome) if row.outcome else None

    @strawberry.field(
        description="When it starts or started; a draft without one shows its creation time."
    )
    def starts_at(self) -> datetime:
        return self.row.starts_at or self.row.published_at or self.row.created_at

    @strawberry.field(description="The end, including soft-close extensions.")
    async def ends_at(self, info: Ctx) -> datetime:
        return (await self._current(info)).ends_at

    @strawberry.field
    def starting_price(self) -> Money:
        money = Money.of(self.row.starting_price, self.row.currency)
        assert money is not None
        return money

    def _dutch_now(self, info: Ctx) -> int:
        row = self.row
        assert row.dutch_step is not None and row.dutch_step_seconds is not None
        started = row.activated_at or row.starts_at
        elapsed = (info.context.deps.clock() - started).total_seconds() if started else 0.0
        return dutch_price(
            row.starting_price,
            row.dutch_step,
            row.dutch_step_seconds,
            row.dutch_floor or 0,
            elapsed,
        )

    @strawberry.field(
        description="Null for sealed auctions until they end, and before the first English bid."
    )
    async def current_price(self, info: Ctx) -> Money | None:
        row = await self._current(info)
        if row.status == Status.ENDED.value:
            return Money.of(
                row.final_price if row.final_price is not None else row.current_price, row.currency
            )
        if _sealed_and_open(row):
            return None
        if row.type == Type.DUTCH.value and row.status == Status.ACTIVE.value:
            return Money.of(self._dutch_now(info), row.currency)
        if row.type == Type.DUTCH.value:
            return Money.of(row.starting_price, row.currency)
        return Money.of(row.current_price, row.currency)

    @strawberry.field(description="The least a bid must be now; null once bidding is over.")
    async def minimum_next_bid(self, info: Ctx) -> Money | None:
        row = await self._current(info)
        if row.status not in (Status.SCHEDULED.value, Status.ACTIVE.value):
            return None
        if row.type == Type.ENGLISH.value:
            return Money.of(
                english_minimum_next_bid(row.starting_price, row.current_price, row.currency),
                row.currency,
            )
        if row.type == Type.DUTCH.value and row.status == Status.ACTIVE.value:
            return Money.of(self._dutch_now(info), row.currency)
        return Money.of(row.starting_price, row.currency)

    @strawberry.field(
        description="True when there is no reserve or the price has reached it. "
        "Sealed auctions reveal it only at the end."
    )
    async def reserve_met(self, info: Ctx) -> bool:
        row = await self._current(info)
        if row.reserve_price is None:
            return True
        if Type(row.type).sealed:
            return row.outcome == "SOLD"
        return row.current_price is not None and row.current_price >= row.reserve_price

    @strawberry.field
    def buy_now_price(self) -> Money | None:
        return Money.of(self.row.buy_now_price, self.row.currency)

    @strawberry.field
    async def bid_count(self, info: Ctx) -> int:
        return (await self._current(info)).bid_count

    @strawberry.field
    async def watcher_count(self, info: Ctx) -> int:
        return await info.context.loaders.watchers.load(self.row.id)

    @strawberry.field(description="The current high bidder; hidden for sealed auctions.")
    async def leader(self, info: Ctx) -> User | None:
        row = await self._current(info)
        if Type(row.type).sealed or row.status == Status.CANCELLED.value:
            return None
        return await load_user(info, row.leader_id)

    @strawberry.field
    async def winner(self, info: Ctx) -> User | None:
        return await load_user(info, (await self._current(info)).winner_id)

    @strawberry.field
    async def final_price(self, info: Ctx) -> Money | None:
        row = await self._current(info)
        return Money.of(row.final_price, row.currency)

    @strawberry.field
    async def bids(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> BidConnection:
        page = await catalog.bids_of_auction(
            info.context.deps, self.row.id, first, after, info.context.max_page
        )
        return bid_connection(page, {self.row.id: self.row})


@strawberry.type
class Bid:
    row: strawberry.Private[tables.Bid]
    auction_row: strawberry.Private[tables.Auction | None] = None

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    async def _auction_row(self, info: Ctx) -> tables.Auction:
        row = self.auction_row or await info.context.loaders.auctions.load(self.row.auction_id)
        assert row is not None
        return row

    @strawberry.field
    async def auction(self, info: Ctx) -> Auction:
        return Auction(row=await self._auction_row(info))

    @strawberry.field
    async def bidder(self, info: Ctx) -> User:
        return await require_user(info, self.row.bidder_id)

    @strawberry.field(description="Hidden (null) on open sealed auctions except to the bidder.")
    async def amount(self, info: Ctx) -> Money | None:
        auction = await self._auction_row(info)
        viewer = info.context.viewer
        if _sealed_and_open(auction) and (viewer is None or viewer.id != self.row.bidder_id):
            return None
        return Money.of(self.row.amount, self.row.currency)

    @strawberry.field
    def sequence(self) -> int:
        return self.row.sequence

    @strawberry.field
    def placed_at(self) -> datetime:
        return self.row.placed_at


AuctionConnection = Connection[Auction]
BidConnection = Connection[Bid]


def auction_connection(page: Page[tables.Auction]) -> AuctionConnection:
    return connection(page, lambda row: Auction(row=row))


def bid_connection(
    page: Page[tables.Bid], auctions: dict[Any, tables.Auction] | None = None
) -> BidConnection:
    """Bids as a connection; `auctions` are rows the caller already holds, by id."""
    known = auctions or {}
    return connection(page, lambda row: Bid(row=row, auction_row=known.get(row.auction_id)))
