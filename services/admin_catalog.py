"""The admin app's reads for its Users, Auctions and auction pages (issue 17; the admin
app's guide, docs/admin-app.md "Users, auctions and the audit log").

Admins only (FORBIDDEN otherwise: `moderation.require_admin`). The lists page by
limit/offset ("page N of M" in a table; `limit` 1-100, INVALID_PAGE_SIZE otherwise,
`offset` >= 0, INVALID_INPUT otherwise), sort and filter in PostgreSQL, and count their
total. Sorts are chosen from fixed names (an unknown one is INVALID_INPUT), every sort
breaks ties on the id so pages never overlap.

What the API hides from everyone stays hidden here too: a sealed auction's amounts (its
price, each bid's amount, the amounts in its event log) until it has ENDED
(domain/public_state.py `bid_amounts_hidden`), and other sellers' drafts are not
auctions an admin acts on (services/catalog.py `visible`: an admin sees them, but only
their seller changes them).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import col, select

from domain.enums import AuctionStatus, AuctionType, FraudFlagStatus, Role
from domain.errors import ValidationFailed
from domain.events import (
    BidAccepted,
    BidsVoided,
    Cancelled,
    Ended,
    MalformedEvent,
    PriceStep,
    parse_stored,
)
from domain.public_state import (
    PublicState,
    Standing,
    bid_amounts_hidden,
    public_state_of,
)
from domain.reputation import Reputation
from domain.text import check_text
from services.deps import Deps
from services.moderation import require_admin
from services.settlement_reads import reputations_by_user
from storage.tables import (
    Auction,
    AuctionEvent,
    AuditLog,
    Bid,
    FraudFlag,
    Item,
    User,
    Watch,
)

T = TypeVar("T")

MAX_LIMIT = 100
MAX_TEXT = 254
# No admin list reaches a million rows; a larger offset is a forged page number, refused
# before it becomes an OFFSET PostgreSQL overflows on.
MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One page of a list: its `rows`, the `total` matching, and where it starts."""

    rows: list[T]
    total: int
    offset: int
    limit: int


def check_window(limit: int, offset: int) -> None:
    """INVALID_PAGE_SIZE unless 1 <= limit <= 100; INVALID_INPUT for an offset below 0
    or above MAX_OFFSET."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"a page holds 1 to {MAX_LIMIT} rows", code="INVALID_PAGE_SIZE", field="limit"
        )
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed(f"the offset is 0 to {MAX_OFFSET:,}", field="offset")


def _text(value: str | None, name: str) -> str:
    """`value` stripped; INVALID_INPUT (field `name`) when over 254 characters or holding
    NUL or control characters (PostgreSQL refuses NUL in a comparison)."""
    text = check_text((value or "").strip(), name)
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"{name} is at most {MAX_TEXT} characters", field=name)
    return text


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ordered(key: Any, row_id: Any, descending: bool) -> tuple[Any, Any]:
    if descending:
        return key.desc().nulls_last(), row_id.desc()
    return key.asc().nulls_first(), row_id.asc()


# -- users ----------------------------------------------------------------------------------

UserSort = Literal["joined", "username", "strikes", "disputes", "flags"]
UserState = Literal["all", "held", "banned", "flagged", "clean"]


@dataclass(frozen=True, slots=True)
class UserQuery:
    """`text`: a username or email prefix (case-insensitive; `%` and `_` are plain);
    `state`: held / banned / flagged (an OPEN fraud flag) / clean (none of these);
    `role`: accounts with that role; `sort` with `descending`."""

    text: str | None = None
    state: UserState = "all"
    role: Role | None = None
    sort: UserSort = "joined"
    descending: bool = True


@dataclass(frozen=True, slots=True)
class UserLine:
    user: User
    open_flags: int
    reputation: Reputation


_open_flags = (
    select(func.count())
    .where(
        col(FraudFlag.user_id) == User.id,
        col(FraudFlag.status) == FraudFlagStatus.OPEN.value,
    )
    .correlate(User)
    .scalar_subquery()
)

_USER_SORTS: dict[str, Any] = {
    "joined": col(User.created_at),
    "username": func.lower(col(User.username)),
    "strikes": col(User.unpaid_strikes),
    "disputes": col(User.disputes_lost),
    "flags": _open_flags,
}


async def list_users(
    deps: Deps, viewer: User, query: UserQuery, limit: int, offset: int
) -> Listing[UserLine]:
    """Accounts matching `query`, sorted, one page; each with its OPEN fraud flags and
    its reputation (domain/reputation.py, from the ratings received)."""
    require_admin(viewer)
    check_window(limit, offset)
    if query.sort not in _USER_SORTS:
        raise ValidationFailed(f"unknown sort {query.sort!r}", field="sort")
    prefix = _text(query.text, "query").lower()
    where: list[ColumnElement[bool]] = []
    if prefix:
        pattern = _like(prefix) + "%"
        where.append(
            or_(
                func.lower(col(User.username)).like(pattern, escape="\\"),
                col(User.email).like(pattern, escape="\\"),
            )
        )
    if query.state == "held":
        where.append(col(User.fraud_hold).is_(True))
    elif query.state == "banned":
        where.append(col(User.banned_at).is_not(None))
    elif query.state == "flagged":
        where.append(_open_flags > 0)
    elif query.state == "clean":
        where.append(
            and_(col(User.fraud_hold).is_(False), col(User.banned_at).is_(None), _open_flags == 0)
        )
    elif query.state != "all":
        raise ValidationFailed(f"unknown state {query.state!r}", field="state")
    if query.role is not None:
        where.append(col(User.roles).contains([Role(query.role).value]))
    order = _ordered(_USER_SORTS[query.sort], col(User.id), query.descending)
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(User, _open_flags).where(*where).order_by(*order).limit(limit).offset(offset)
            )
        ).all()
        total = (await uow.session.exec(select(func.count()).select_from(User).where(*where))).one()
    users = [user for user, _ in rows]
    reputations = await reputations_by_user(deps, [u.id for u in users]) if users else []
    lines = [
        UserLine(user=user, open_flags=int(flags), reputation=rep)
        for (user, flags), rep in zip(rows, reputations, strict=True)
    ]
    return Listing(rows=lines, total=int(total), offset=offset, limit=limit)


async def user_line(deps: Deps, viewer: User, user_id: uuid.UUID) -> UserLine | None:
    """One account as the users list shows it (re-read after an action); None if none."""
    require_admin(viewer)
    async with deps.uow() as uow:
        row = (
            await uow.session.exec(select(User, _open_flags).where(col(User.id) == user_id))
        ).first()
    if row is None:
        return None
    user, flags = row
    [rep] = await reputations_by_user(deps, [user.id])
    return UserLine(user=user, open_flags=int(flags), reputation=rep)


async def user_by_name_or_id(deps: Deps, viewer: User, text: str) -> User | None:
    """The account whose id or username (case-insensitive) is `text`; None if none."""
    require_admin(viewer)
    name = _text(text, "user")
    if not name:
        return None
    async with deps.uow() as uow:
        try:
            found = await uow.session.get(User, uuid.UUID(name))
        except ValueError:
            found = None
        if found is not None:
            return found
        return (
            await uow.session.exec(
                select(User).where(func.lower(col(User.username)) == name.lower())
            )
        ).first()


async def usernames(deps: Deps, viewer: User, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The username of each id that names an account (one query)."""
    require_admin(viewer)
    wanted = list({i for i in ids})
    if not wanted:
        return {}
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(col(User.id), col(User.username)).where(col(User.id).in_(wanted))
            )
        ).all()
    return {user_id: name for user_id, name in rows}


# -- auctions -------------------------------------------------------------------------------

AuctionSortName = Literal["ends", "created", "price", "bids", "title"]

_SEALED = (AuctionType.SEALED_FIRST_PRICE.value, AuctionType.SEALED_SECOND_PRICE.value)
# The price a list sorts by is the one it shows: an open sealed auction's row holds its
# hidden highest bid, so it sorts by its starting price (as services/catalog.py does).
_shown_price = case(
    (
        and_(col(Auction.type).in_(_SEALED), col(Auction.status) != AuctionStatus.ENDED.value),
        Auction.starting_price,
    ),
    else_=func.coalesce(Auction.final_price, Auction.current_price, Auction.starting_price),
)

_AUCTION_SORTS: dict[str, Any] = {
    "ends": col(Auction.ends_at),
    "created": col(Auction.created_at),
    "price": _shown_price,
    "bids": col(Auction.bid_count),
    "title": func.lower(col(Item.title)),
}


@dataclass(frozen=True, slots=True)
class AuctionQuery:
    """`text`: words of the title (case-insensitive, contained); `seller`: a username
    prefix; `statuses` / `types`: any of them (empty: all); `featured`: only featured
    ones when True, and only while SCHEDULED or ACTIVE (a cancelled or ended auction keeps
    its flag but is put forward nowhere); `sort` with `descending`."""

    text: str | None = None
    seller: str | None = None
    statuses: Sequence[AuctionStatus] = ()
    types: Sequence[AuctionType] = ()
    featured: bool = False
    sort: AuctionSortName = "created"
    descending: bool = True


@dataclass(frozen=True, slots=True)
class AuctionLine:
    auction: Auction
    title: str
    seller: str  # username
    state: PublicState  # as the API shows it (sealed amounts hidden until the end)


async def list_auctions(
    deps: Deps, viewer: User, query: AuctionQuery, limit: int, offset: int
) -> Listing[AuctionLine]:
    """Auctions of every seller and status matching `query`, sorted, one page."""
    require_admin(viewer)
    check_window(limit, offset)
    if query.sort not in _AUCTION_SORTS:
        raise ValidationFailed(f"unknown sort {query.sort!r}", field="sort")
    title = _text(query.text, "query").lower()
    seller = _text(query.seller, "seller").lower()
    where: list[ColumnElement[bool]] = []
    if title:
        for word in title.split():
            where.append(func.lower(col(Item.title)).like(f"%{_like(word)}%", escape="\\"))
    if seller:
        where.append(func.lower(col(User.username)).like(_like(seller) + "%", escape="\\"))
    if query.statuses:
        where.append(col(Auction.status).in_([AuctionStatus(s).value for s in query.statuses]))
    if query.types:
        where.append(col(Auction.type).in_([AuctionType(t).value for t in query.types]))
    if query.featured:
        where.append(col(Auction.featured).is_(True))
        where.append(
            col(Auction.status).in_([AuctionStatus.SCHEDULED.value, AuctionStatus.ACTIVE.value])
        )
    joined = (
        select(Auction, col(Item.title), col(User.username))
        .join(Item, col(Item.id) == Auction.item_id)
        .join(User, col(User.id) == Auction.seller_id)
        .where(*where)
    )
    order = _ordered(_AUCTION_SORTS[query.sort], col(Auction.id), query.descending)
    count = (
        select(func.count())
        .select_from(Auction)
        .join(Item, col(Item.id) == Auction.item_id)
        .join(User, col(User.id) == Auction.seller_id)
        .where(*where)
    )
    async with deps.uow() as uow:
        rows = (await uow.session.exec(joined.order_by(*order).limit(limit).offset(offset))).all()
        total = (await uow.session.exec(count)).one()
    now = deps.clock()
    lines = [
        AuctionLine(auction=a, title=t, seller=s, state=public_state_of(a, None, now))
        for a, t, s in rows
    ]
    return Listing(rows=lines, total=int(total), offset=offset, limit=limit)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """How an auction was cancelled, from its `auction.cancel` audit row (services/listings.py
    `cancel_auction`): when, by whom (None: the account is gone or it was the system), why,
    and how many bids were voided with it (SPEC section 3: a cancel voids every bid)."""

    at: datetime | None
    by: str | None
    reason: str | None
    voided_bids: int


@dataclass(frozen=True, slots=True)
class AuctionView:
    """An auction for its admin page: the row, its item, who sells it, and its state as
    the API shows it now (the live slot's state over the row's while it is ACTIVE)."""

    auction: Auction
    item: Item
    seller: User
    state: PublicState
    watchers: int
    names: dict[uuid.UUID, str] = field(default_factory=dict)  # leader, winner
    cancellation: Cancellation | None = None  # only for a CANCELLED auction

    @property
    def amounts_hidden(self) -> bool:
        return self.state.bid_amounts_hidden


async def auction_view(deps: Deps, viewer: User, auction_id: uuid.UUID) -> AuctionView | None:
    """The auction's page data; None when there is no such auction."""
    require_admin(viewer)
    async with deps.uow() as uow:
        auction = await uow.session.get(Auction, auction_id)
        if auction is None:
            return None
        item = await uow.session.get(Item, auction.item_id)
        seller = await uow.session.get(User, auction.seller_id)
        watchers = (
            await uow.session.exec(
                select(func.count()).select_from(Watch).where(col(Watch.auction_id) == auction_id)
            )
        ).one()
        cancellation = (
            await _cancellation(uow.session, auction)
            if auction.status == AuctionStatus.CANCELLED.value
            else None
        )
    assert item is not None and seller is not None
    state = await _state_now(deps, auction)
    names = await usernames(deps, viewer, [u for u in (state.leader, state.winner) if u])
    return AuctionView(
        auction=auction,
        item=item,
        seller=seller,
        state=state,
        watchers=int(watchers),
        names=names,
        cancellation=cancellation,
    )


async def _cancellation(session: Any, auction: Auction) -> Cancellation:
    """The latest `auction.cancel` audit row of `auction`, with its actor's name; the row's
    own `cancelled_at`/`cancel_reason` when no audit row is found (an older cancel)."""
    found = (
        await session.exec(
            select(AuditLog, User.username)
            .join(User, col(User.id) == col(AuditLog.actor_id), isouter=True)
            .where(
                col(AuditLog.entity_type) == "auction",
                col(AuditLog.entity_id) == str(auction.id),
                col(AuditLog.action) == "auction.cancel",
            )
            .order_by(col(AuditLog.id).desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return Cancellation(auction.cancelled_at, None, auction.cancel_reason, auction.bid_count)
    row, name = found
    details = row.details or {}
    before = details.get("before")
    # The slot's count at the cancel: bids the persister records after it are voided by
    # the persister, not counted in `voided_bids`; every one of them is void all the same.
    counts = [
        details.get("voided_bids"),
        before.get("bid_count") if isinstance(before, dict) else 0,
    ]
    voided = max((n for n in counts if isinstance(n, int)), default=0)
    reason = details.get("reason")
    return Cancellation(
        at=auction.cancelled_at or row.at,
        by=name,
        reason=reason if isinstance(reason, str) and reason else auction.cancel_reason,
        voided_bids=voided,
    )


async def live_state(deps: Deps, viewer: User, auction: Auction) -> PublicState:
    """`auction`'s state as the API shows it now (the slot's while it is live)."""
    require_admin(viewer)
    return await _state_now(deps, auction)


async def _state_now(deps: Deps, auction: Auction) -> PublicState:
    live = None
    if auction.status == AuctionStatus.ACTIVE.value:
        slot = (await deps.slots.live([auction.id]))[0]
        if slot is not None:
            live = Standing(
                status=AuctionStatus(slot.status),
                price=slot.price,
                leader=slot.leader_id,
                bid_count=slot.bid_count,
                sequence=slot.sequence,
                ends_at=slot.ends_at,
            )
    return public_state_of(auction, live, deps.clock())


async def reread(deps: Deps, viewer: User, auction_id: uuid.UUID) -> Auction | None:
    """The auction's row as stored now (its status may have moved on)."""
    require_admin(viewer)
    async with deps.uow() as uow:
        return await uow.session.get(Auction, auction_id)


# -- an auction's bids and event log ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BidLine:
    sequence: int
    bidder_id: uuid.UUID
    bidder: str
    amount: int | None  # None: hidden (a sealed auction before its end)
    max_amount: int | None  # the proxy ceiling (English), hidden like the amount
    currency: str
    placed_at: datetime
    state: Literal["live", "voided", "retracted"]


async def auction_bids(
    deps: Deps, viewer: User, auction: Auction, limit: int, offset: int
) -> Listing[BidLine]:
    """The auction's bids newest first, voided and retracted ones included (marked)."""
    require_admin(viewer)
    check_window(limit, offset)
    hidden = bid_amounts_hidden(AuctionType(auction.type), AuctionStatus(auction.status))
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Bid, col(User.username))
                .join(User, col(User.id) == Bid.bidder_id)
                .where(col(Bid.auction_id) == auction.id)
                .order_by(col(Bid.sequence).desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
        total = (
            await uow.session.exec(
                select(func.count()).select_from(Bid).where(col(Bid.auction_id) == auction.id)
            )
        ).one()
    lines = [
        BidLine(
            sequence=bid.sequence,
            bidder_id=bid.bidder_id,
            bidder=name,
            amount=None if hidden else bid.amount,
            max_amount=None if hidden else bid.max_amount,
            currency=bid.currency,
            placed_at=bid.placed_at,
            state="retracted" if bid.retracted_at else "voided" if bid.voided_at else "live",
        )
        for bid, name in rows
    ]
    return Listing(rows=lines, total=int(total), offset=offset, limit=limit)


@dataclass(frozen=True, slots=True)
class EventLine:
    """One event of the auction's log, with what it means; amounts None when hidden."""

    sequence: int
    kind: str  # EventKind value
    at: datetime
    status: str  # the auction's status after it
    bid_count: int
    ends_at: datetime | None
    price: int | None  # the current price after it (Dutch step: the price on offer)
    bidder: str | None = None  # BID_ACCEPTED: the bidder's username (or id)
    amount: int | None = None  # BID_ACCEPTED: what the bid offered
    leading: bool | None = None
    buy_now: bool = False
    reason: str | None = None  # ENDED: TIME / BUY_NOW / ACCEPTED; CANCELLED, BIDS_VOIDED
    voided: tuple[int, ...] = ()  # BIDS_VOIDED: the bid sequences voided
    note: str | None = None  # BIDS_VOIDED: the admin's note


async def event_log(
    deps: Deps, viewer: User, auction: Auction, limit: int, offset: int
) -> Listing[EventLine]:
    """The auction's recorded events (auction_events) newest first. An event the
    persister has not recorded yet shows a moment later (it is milliseconds behind)."""
    require_admin(viewer)
    check_window(limit, offset)
    hidden = bid_amounts_hidden(AuctionType(auction.type), AuctionStatus(auction.status))
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(AuctionEvent)
                .where(col(AuctionEvent.auction_id) == auction.id)
                .order_by(col(AuctionEvent.sequence).desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
        total = (
            await uow.session.exec(
                select(func.count())
                .select_from(AuctionEvent)
                .where(col(AuctionEvent.auction_id) == auction.id)
            )
        ).one()
    bidders: list[uuid.UUID] = []
    for row in rows:
        raw = row.payload.get("bidder")
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                bidders.append(uuid.UUID(raw))
    names = {str(k): v for k, v in (await usernames(deps, viewer, bidders)).items()}
    lines = [_event_line(row, hidden, names) for row in rows]
    return Listing(rows=lines, total=int(total), offset=offset, limit=limit)


def _event_line(row: AuctionEvent, hidden: bool, names: dict[str, str]) -> EventLine:
    try:
        event = parse_stored(row.payload, row.sequence, row.kind)
    except MalformedEvent:
        # Never fails the page: the row is shown with what the table itself says.
        return EventLine(
            sequence=row.sequence,
            kind=row.kind,
            at=row.at,
            status="",
            bid_count=0,
            ends_at=None,
            price=None,
        )
    price = event.dutch_price if isinstance(event, PriceStep) else event.price
    line = EventLine(
        sequence=event.sequence,
        kind=event.kind.value,
        at=event.at,
        status=event.status,
        bid_count=event.bid_count,
        ends_at=event.ends_at,
        price=None if hidden else price,
    )
    if isinstance(event, BidAccepted):
        bidder = event.bidder
        return _with(
            line,
            bidder=names.get(bidder, bidder) if bidder else None,
            amount=None if hidden else event.amount,
            leading=None if hidden else event.leading,
            buy_now=event.buy_now,
        )
    if isinstance(event, Ended | Cancelled):
        return _with(line, reason=event.reason or None)
    if isinstance(event, BidsVoided):
        return _with(line, reason=event.reason, voided=event.voided, note=event.note)
    return line


def _with(line: EventLine, **changes: Any) -> EventLine:
    return replace(line, **changes)
