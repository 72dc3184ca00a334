"""Auctions and their bids: the stored row with the live slot's state on top."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from domain.enums import AuctionStatus as Status
from domain.enums import AuctionType as Type
from domain.public_state import PublicState, Standing, bid_amount_visible, public_state_of
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


def live_standing(live: LiveState) -> Standing:
    """The slot's live state as a standing (its outcome is decided by `public_state`)."""
    return Standing(
        status=Status(live.status),
        price=live.price,
        leader=live.leader_id,
        bid_count=live.bid_count,
        sequence=live.sequence,
        ends_at=live.ends_at,
    )


@strawberry.type
class Auction:
    row: strawberry.Private[tables.Auction]
    _state: strawberry.Private[PublicState | None] = None

    async def _public(self, info: Ctx) -> PublicState:
        """The public state (domain/public_state.py), computed once per object; an active
        auction's live slot state is loaded once per request, in one batch."""
        if self._state is None:
            live = None
            if self.row.status == Status.ACTIVE.value:
                slot = await info.context.loaders.live.load(self.row.id)
                live = live_standing(slot) if slot is not None else None
            self._state = public_state_of(self.row, live, info.context.deps.clock())
        return self._state

    def _money(self, minor: int | None) -> Money | None:
        return Money.of(minor, self.row.currency)

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
        return (await self._public(info)).status

    @strawberry.field
    async def outcome(self, info: Ctx) -> AuctionOutcome | None:
        return (await self._public(info)).outcome

    @strawberry.field(
        description="When it starts or started; a draft without one shows its creation time."
    )
    def starts_at(self) -> datetime:
        return self.row.starts_at or self.row.published_at or self.row.created_at

    @strawberry.field(description="The end, including soft-close extensions.")
    async def ends_at(self, info: Ctx) -> datetime:
        return (await self._public(info)).ends_at

    @strawberry.field
    def starting_price(self) -> Money:
        money = self._money(self.row.starting_price)
        assert money is not None
        return money

    @strawberry.field(
        description="Null for sealed auctions until they end, and before the first English bid."
    )
    async def current_price(self, info: Ctx) -> Money | None:
        return self._money((await self._public(info)).current_price)

    @strawberry.field(description="The least a bid must be now; null once bidding is over.")
    async def minimum_next_bid(self, info: Ctx) -> Money | None:
        return self._money((await self._public(info)).minimum_next_bid)

    @strawberry.field(
        description="True when there is no reserve or the price has reached it. "
        "Sealed auctions reveal it only at the end."
    )
    async def reserve_met(self, info: Ctx) -> bool:
        return (await self._public(info)).reserve_met

    @strawberry.field
    def buy_now_price(self) -> Money | None:
        return Money.of(self.row.buy_now_price, self.row.currency)

    @strawberry.field(description="Whether Gavel features it (admins decide: featureAuction).")
    def featured(self) -> bool:
        return self.row.featured

    @strawberry.field
    async def bid_count(self, info: Ctx) -> int:
        return (await self._public(info)).bid_count

    @strawberry.field
    async def watcher_count(self, info: Ctx) -> int:
        return await info.context.loaders.watchers.load(self.row.id)

    @strawberry.field(description="The current high bidder; hidden for sealed auctions.")
    async def leader(self, info: Ctx) -> User | None:
        return await load_user(info, (await self._public(info)).leader)

    @strawberry.field
    async def winner(self, info: Ctx) -> User | None:
        return await load_user(info, (await self._public(info)).winner)

    @strawberry.field
    async def final_price(self, info: Ctx) -> Money | None:
        return self._money((await self._public(info)).final_price)

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
        own = viewer is not None and viewer.id == self.row.bidder_id
        if not bid_amount_visible(Type(auction.type), Status(auction.status), own=own):
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
