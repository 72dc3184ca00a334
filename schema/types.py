"""The object types of the contract, each a thin view over a stored row."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import strawberry

from domain.enums import AuctionStatus as Status
from domain.enums import AuctionType as Type
from domain.enums import Role as RoleValue
from domain.outcome import FinalState, decide
from domain.pricing import dutch_price, english_minimum_next_bid
from realtime.slots import LiveState
from schema.context import Ctx
from schema.enums import (
    AuctionOutcome,
    AuctionStatus,
    AuctionType,
    BidRejection,
    DisputeStatus,
    ItemCondition,
    Role,
    TransactionStatus,
)
from schema.money import Money
from services import catalog
from services.paging import Page
from storage import tables


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def _page_info(page: Page[Any]) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next, end_cursor=page.cursors[-1] if page.cursors else None
    )


@strawberry.type
class User:
    row: strawberry.Private[tables.User]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def username(self) -> str:
        return self.row.username

    @strawberry.field
    def display_name(self) -> str | None:
        return self.row.display_name

    @strawberry.field
    def roles(self) -> list[Role]:
        return [RoleValue(r) for r in self.row.roles]

    @strawberry.field
    def reputation_score(self) -> float:
        return self.row.reputation_score

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


async def load_user(info: Ctx, user_id: Any) -> User | None:
    if user_id is None:
        return None
    row = await info.context.loaders.users.load(user_id)
    return User(row=row) if row is not None else None


@strawberry.type
class Address:
    line1: str
    line2: str | None
    city: str
    postal_code: str
    country: str


@strawberry.type
class Item:
    row: strawberry.Private[tables.Item]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def seller(self, info: Ctx) -> User:
        user = await load_user(info, self.row.seller_id)
        assert user is not None
        return user

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field
    def category(self) -> str:
        return self.row.category

    @strawberry.field
    def condition(self) -> ItemCondition:
        return ItemCondition(self.row.condition)

    @strawberry.field
    async def image_urls(self, info: Ctx) -> list[str]:
        images = await info.context.loaders.images.load(self.row.id)
        return [info.context.deps.images.url(i.storage_key) for i in images]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


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
        return BidConnection.of(page, {self.row.id: self.row})


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
        user = await load_user(info, self.row.bidder_id)
        assert user is not None
        return user

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


@strawberry.type
class AuctionEdge:
    node: Auction
    cursor: str


@strawberry.type
class AuctionConnection:
    edges: list[AuctionEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Page[tables.Auction]) -> AuctionConnection:
        return cls(
            edges=[
                AuctionEdge(node=Auction(row=r), cursor=c)
                for r, c in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=_page_info(page),
            total_count=page.total,
        )


@strawberry.type
class BidEdge:
    node: Bid
    cursor: str


@strawberry.type
class BidConnection:
    edges: list[BidEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(
        cls, page: Page[tables.Bid], auctions: dict[Any, tables.Auction] | None = None
    ) -> BidConnection:
        known = auctions or {}
        return cls(
            edges=[
                BidEdge(node=Bid(row=r, auction_row=known.get(r.auction_id)), cursor=c)
                for r, c in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=_page_info(page),
            total_count=page.total,
        )


@strawberry.type
class Notification:
    row: strawberry.Private[tables.Notification]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field
    def message(self) -> str:
        return self.row.message

    @strawberry.field
    def auction_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.row.auction_id)) if self.row.auction_id else None

    @strawberry.field
    def read(self) -> bool:
        return self.row.read_at is not None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type
class NotificationEdge:
    node: Notification
    cursor: str


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Transaction:
    row: strawberry.Private[tables.Transaction]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def auction(self, info: Ctx) -> Auction:
        row = await info.context.loaders.auctions.load(self.row.auction_id)
        assert row is not None
        return Auction(row=row)

    @strawberry.field
    async def buyer(self, info: Ctx) -> User:
        user = await load_user(info, self.row.buyer_id)
        assert user is not None
        return user

    @strawberry.field
    async def seller(self, info: Ctx) -> User:
        user = await load_user(info, self.row.seller_id)
        assert user is not None
        return user

    @strawberry.field
    def amount(self) -> Money:
        money = Money.of(self.row.amount, self.row.currency)
        assert money is not None
        return money

    @strawberry.field
    def status(self) -> TransactionStatus:
        return TransactionStatus(self.row.status)

    @strawberry.field(description="For the buyer's payment form; null once settled.")
    def payment_client_secret(self) -> str | None:
        return None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type
class TransactionEdge:
    node: Transaction
    cursor: str


@strawberry.type
class TransactionConnection:
    edges: list[TransactionEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Dispute:
    id: strawberry.ID
    transaction: Transaction
    status: DisputeStatus
    reason: str
    created_at: datetime


@strawberry.type
class FacetCount:
    value: str
    count: int


@strawberry.type
class SearchResult:
    edges: list[AuctionEdge]
    page_info: PageInfo
    total_count: int
    category_facets: list[FacetCount]
    type_facets: list[FacetCount]
    condition_facets: list[FacetCount]


@strawberry.type
class Viewer:
    row: strawberry.Private[tables.User]

    @strawberry.field
    def user(self) -> User:
        return User(row=self.row)

    @strawberry.field
    def email(self) -> str:
        return self.row.email

    @strawberry.field
    def address(self) -> Address | None:
        a = self.row.address
        if not a:
            return None
        return Address(
            line1=a["line1"],
            line2=a.get("line2"),
            city=a["city"],
            postal_code=a["postal_code"],
            country=a["country"],
        )

    @strawberry.field
    def email_verified(self) -> bool:
        return self.row.email_verified_at is not None

    @strawberry.field
    def mfa_enabled(self) -> bool:
        return self.row.mfa_enabled

    @strawberry.field
    async def watchlist(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> AuctionConnection:
        page = await catalog.watchlist(
            info.context.deps, self.row, first, after, info.context.max_page
        )
        return AuctionConnection.of(page)

    @strawberry.field
    async def notifications(
        self,
        info: Ctx,
        first: int | None = 20,
        after: str | None = None,
        unread_only: bool | None = False,
    ) -> NotificationConnection:
        page = await catalog.notifications(
            info.context.deps, self.row, first, after, unread_only, info.context.max_page
        )
        return NotificationConnection(
            edges=[
                NotificationEdge(node=Notification(row=r), cursor=c)
                for r, c in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=_page_info(page),
            total_count=page.total,
        )

    @strawberry.field
    async def bids(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> BidConnection:
        page = await catalog.bids_of_user(
            info.context.deps, self.row, first, after, info.context.max_page
        )
        return BidConnection.of(page)

    @strawberry.field
    async def purchases(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> TransactionConnection:
        page = await catalog.purchases(
            info.context.deps, self.row, first, after, info.context.max_page
        )
        return TransactionConnection(
            edges=[
                TransactionEdge(node=Transaction(row=r), cursor=c)
                for r, c in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=_page_info(page),
            total_count=page.total,
        )


@strawberry.type
class AuctionEvent:
    auction_id: strawberry.ID
    kind: str
    sequence: int
    current_price: Money | None
    bid_count: int
    ends_at: datetime
    leader_id: strawberry.ID | None
    at: datetime


@strawberry.type
class BidAccepted:
    bid: Bid
    auction: Auction
    leading: bool


@strawberry.type
class BidRejected:
    reason: BidRejection
    message: str
    minimum_next_bid: Money | None


PlaceBidResult = Annotated[BidAccepted | BidRejected, strawberry.union("PlaceBidResult")]
