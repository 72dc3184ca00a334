"""The seller's live auction monitor and "live now" list (admin app, docs/admin-app.md).

Reads only, scoped to the viewer: a seller sees their own auctions, an admin any; anyone
else is told the auction does not exist (NOT_FOUND, as the API does for a stranger's
sale). The monitor starts from `monitor(...)` (the stored row, the live slot's state on
top, the latest events as a ticker) and then follows the auction's bus events with
`advance(...)`, which applies one public event with the domain's own rules
(domain/public_state.py), so what the page shows is what the API would answer.

A sealed auction's ticker says that a bid came, never who or how much (SPEC §3: secret
until the end). Money is integer minor units of the auction's currency; moments are
aware datetimes (UTC).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from domain.enums import AuctionStatus, AuctionType, Role
from domain.errors import NotFound
from domain.events import (
    AnyEvent,
    BidAccepted,
    BidsVoided,
    Cancelled,
    Ended,
    Extended,
    parse_stored,
)
from domain.public_state import (
    PublicState,
    Standing,
    Terms,
    public_state,
    standing_of,
    terms_of,
)
from realtime.slots import LiveState
from services import catalog
from services.deps import Deps
from storage.tables import Auction, AuctionEvent, Item, User

TICKER_SIZE = 50  # lines the monitor keeps (newest first)
MAX_LIVE_PAGE = 100
MAX_OFFSET = 100_000


@dataclass(frozen=True, slots=True)
class TickerLine:
    """One line of the bid ticker. `amount` (minor units) and `bidder` (a username, as
    the API's `Bid.bidder` shows it) are None when hidden (sealed) or not a bid."""

    sequence: int
    at: datetime
    kind: str  # EventKind value
    amount: int | None
    bidder: str | None
    note: str  # "bid", "buy now", "end extended", ...


@dataclass(frozen=True, slots=True)
class Monitor:
    """An auction as its monitor shows it at a moment."""

    auction_id: uuid.UUID
    title: str
    type: AuctionType
    currency: str
    terms: Terms
    stored: Standing  # the record's standing when read
    live: Standing | None  # the slot's (or the latest event's) standing, if live
    state: PublicState
    leader_name: str | None
    watchers: int
    ticker: tuple[TickerLine, ...]  # newest first
    names: dict[str, str]  # user id -> username, of everyone named so far
    starts_at: datetime | None
    hard_close_at: datetime | None
    soft_close_window_seconds: int | None
    soft_close_extension_seconds: int | None

    @property
    def sequence(self) -> int:
        return self.state.sequence


@dataclass(frozen=True, slots=True)
class LiveListing:
    """A row of the "live now" list."""

    auction_id: uuid.UUID
    title: str
    type: AuctionType
    currency: str
    price: int | None  # the public current price (None: sealed, or no bid yet)
    bid_count: int
    ends_at: datetime


def can_monitor(viewer: User, auction: Auction) -> bool:
    return auction.seller_id == viewer.id or Role.ADMIN.value in viewer.roles


def _auction_id(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("no such auction", field="auctionId") from None


def standing_of_live(live: LiveState) -> Standing:
    return Standing(
        status=AuctionStatus(live.status),
        price=live.price,
        leader=live.leader_id,
        bid_count=live.bid_count,
        sequence=live.sequence,
        ends_at=live.ends_at,
    )


def standing_of_event(event: AnyEvent, before: Standing) -> Standing:
    """The slot's standing right after `event` (every event carries it)."""
    leader = uuid.UUID(event.leader) if event.leader else None
    return Standing(
        status=AuctionStatus(event.status) if event.status else before.status,
        price=event.price,
        leader=leader,
        bid_count=event.bid_count,
        sequence=event.sequence,
        ends_at=event.ends_at or before.ends_at,
    )


def ticker_line(event: AnyEvent, sealed: bool, names: dict[str, str]) -> TickerLine | None:
    """The ticker's line for `event`, or None for events the ticker leaves out (a Dutch
    price step: the price display shows it). Sealed: no bidder, no amount."""
    amount: int | None = None
    bidder: str | None = None
    if isinstance(event, BidAccepted):
        note = "buy now" if event.buy_now else ("sealed bid" if sealed else "bid")
        if not sealed:
            amount = event.amount
            bidder = names.get(event.bidder) if event.bidder else None
    elif isinstance(event, Extended):
        note = "end extended (soft close)"
    elif isinstance(event, Ended):
        note = "ended"
    elif isinstance(event, Cancelled):
        note = "cancelled"
    elif isinstance(event, BidsVoided):
        count = len(event.voided)
        note = f"{count} bid{'' if count == 1 else 's'} voided, price recomputed"
    else:
        return None
    return TickerLine(event.sequence, event.at, event.kind.value, amount, bidder, note)


async def _names(deps: Deps, ids: Iterable[str], known: dict[str, str]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i and i not in known})
    if not wanted:
        return known
    try:
        keys = [uuid.UUID(i) for i in wanted]
    except ValueError:
        return known
    found = dict(known)
    for user in await catalog.users_by_id(deps, keys):
        if user is not None:
            found[str(user.id)] = user.username
    return found


async def _recent_events(deps: Deps, auction_id: uuid.UUID, last: int) -> list[AnyEvent]:
    """The auction's last `TICKER_SIZE` events, oldest first: from its Redis stream, and
    from PostgreSQL for what the stream no longer holds."""
    after = max(0, last - TICKER_SIZE)
    in_redis = await deps.slots.events_since(auction_id, after, count=TICKER_SIZE)
    first = in_redis[0].sequence if in_redis else None
    older: list[AnyEvent] = []
    if first is None or first > after + 1:
        query = select(AuctionEvent).where(
            col(AuctionEvent.auction_id) == auction_id, col(AuctionEvent.sequence) > after
        )
        if first is not None:
            query = query.where(col(AuctionEvent.sequence) < first)
        async with deps.uow() as uow:
            rows = (
                await uow.session.exec(
                    query.order_by(col(AuctionEvent.sequence)).limit(TICKER_SIZE)
                )
            ).all()
        older = [parse_stored(r.payload, r.sequence, r.kind) for r in rows]
    return older + in_redis


def _bidders(events: Iterable[AnyEvent]) -> set[str]:
    out: set[str] = set()
    for e in events:
        if e.leader:
            out.add(e.leader)
        if isinstance(e, BidAccepted) and e.bidder:
            out.add(e.bidder)
    return out


async def monitor(deps: Deps, viewer: User, auction_id: uuid.UUID | str) -> Monitor:
    """The auction's monitor now. Raises NOT_FOUND unless the viewer sells it or is an
    admin (a malformed id names nothing: NOT_FOUND too)."""
    key = _auction_id(auction_id)
    async with deps.uow() as uow:
        auction = await uow.session.get(Auction, key)
        if auction is None or not can_monitor(viewer, auction):
            raise NotFound("no such auction", field="auctionId")
        item = await uow.session.get(Item, auction.item_id)
    assert item is not None  # a foreign key
    slot = (await deps.slots.live([key]))[0]
    live = standing_of_live(slot) if slot is not None else None
    stored, terms = standing_of(auction), terms_of(auction)
    now = deps.clock()
    state = public_state(terms, stored, live, now)
    kind = AuctionType(auction.type)
    events = await _recent_events(deps, key, state.sequence)
    ids = _bidders(events) | ({str(state.leader)} if state.leader else set())
    names = await _names(deps, ids, {})
    lines = [ticker_line(e, kind.sealed, names) for e in reversed(events)]
    watchers = (await catalog.watcher_counts(deps, [key]))[0]
    return Monitor(
        auction_id=key,
        title=item.title,
        type=kind,
        currency=auction.currency,
        terms=terms,
        stored=stored,
        live=live,
        state=state,
        leader_name=names.get(str(state.leader)) if state.leader else None,
        watchers=watchers,
        ticker=tuple(line for line in lines if line is not None),
        names=names,
        starts_at=auction.starts_at,
        hard_close_at=auction.hard_close_at,
        soft_close_window_seconds=auction.soft_close_window_seconds,
        soft_close_extension_seconds=auction.soft_close_extension_seconds,
    )


def needs_reread(current: Monitor, event: AnyEvent) -> bool:
    """Whether `event` cannot be applied on top of `current`: a gap in the sequence, or a
    change whose effect the public event does not carry (a sealed end's outcome, a
    recompute's rewritten history, a cancellation)."""
    if event.sequence != current.sequence + 1:
        return event.sequence > current.sequence  # an old duplicate is just ignored
    if isinstance(event, BidsVoided | Cancelled):
        return True
    return isinstance(event, Ended) and current.type.sealed


async def advance(deps: Deps, current: Monitor, event: AnyEvent) -> Monitor:
    """`current` after one more public event (the bus form). The caller re-reads with
    `monitor(...)` when `needs_reread` says so, and skips events it has already seen."""
    live = standing_of_event(event, current.live or current.stored)
    names = await _names(deps, _bidders([event]), current.names)
    state = public_state(current.terms, current.stored, live, deps.clock())
    line = ticker_line(event, current.type.sealed, names)
    ticker = current.ticker if line is None else (line, *current.ticker[: TICKER_SIZE - 1])
    return replace(
        current,
        live=live,
        state=state,
        names=names,
        leader_name=names.get(str(state.leader)) if state.leader else None,
        ticker=ticker,
    )


async def watchers(deps: Deps, viewer: User, auction_id: uuid.UUID) -> int:
    """How many users watch the auction (NOT_FOUND unless the viewer may monitor it)."""
    async with deps.uow() as uow:
        auction = await uow.session.get(Auction, auction_id)
    if auction is None or not can_monitor(viewer, auction):
        raise NotFound("no such auction", field="auctionId")
    return (await catalog.watcher_counts(deps, [auction_id]))[0]


async def live_listings(
    deps: Deps, viewer: User, *, limit: int = 20, offset: int = 0, most_bids: bool = False
) -> tuple[list[LiveListing], int]:
    """The viewer's ACTIVE auctions (an admin: everyone's), ending soonest first or with
    the most bids first, one page; and how many there are. The price is the live
    slot's, as the API shows it (sealed: None)."""
    limit = max(1, min(limit, MAX_LIVE_PAGE))
    offset = max(0, min(offset, MAX_OFFSET))  # past it, PostgreSQL's bigint overflows
    where = [col(Auction.status) == AuctionStatus.ACTIVE.value]
    if Role.ADMIN.value not in viewer.roles:
        where.append(col(Auction.seller_id) == viewer.id)
    order = (
        (col(Auction.bid_count).desc(), col(Auction.ends_at), col(Auction.id))
        if most_bids
        else (col(Auction.ends_at), col(Auction.id))
    )
    async with deps.uow() as uow:
        total = (
            await uow.session.exec(select(func.count()).select_from(Auction).where(*where))
        ).one()
        rows = (
            await uow.session.exec(
                select(Auction, Item.title)
                .join(Item, col(Item.id) == Auction.item_id)
                .where(*where)
                .order_by(*order)
                .limit(limit)
                .offset(offset)
            )
        ).all()
    slots = await deps.slots.live([a.id for a, _ in rows]) if rows else []
    now = deps.clock()
    out = []
    for (auction, title), slot in zip(rows, slots, strict=True):
        live = standing_of_live(slot) if slot is not None else None
        state = public_state(terms_of(auction), standing_of(auction), live, now)
        out.append(
            LiveListing(
                auction_id=auction.id,
                title=title,
                type=AuctionType(auction.type),
                currency=auction.currency,
                price=state.current_price,
                bid_count=state.bid_count,
                ends_at=state.ends_at,
            )
        )
    return out, int(total)
