"""Read side: browsing auctions (filter, sort, cursor pages), the viewer's lists, batch loads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, and_, case, cast, func, literal, or_, tuple_
from sqlmodel import col, select

from domain.categories import subtree
from domain.enums import AuctionSort, AuctionStatus, AuctionType, ItemCondition, Role
from domain.errors import ValidationFailed
from domain.money import CURRENCY_EXPONENTS
from services.batch_loads import all_per_key, one_per_key
from services.deps import Deps
from services.paging import INT32, INT64, Page, check_first, decode_cursor, make_page, newest_first
from storage.tables import Auction, Bid, Item, ItemImage, Notification, Transaction, User, Watch

PUBLIC_DEFAULT = (AuctionStatus.SCHEDULED, AuctionStatus.ACTIVE)


@dataclass(frozen=True, slots=True)
class AuctionFilter:
    category: str | None = None
    types: Sequence[AuctionType] | None = None
    statuses: Sequence[AuctionStatus] | None = None
    conditions: Sequence[ItemCondition] | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    seller_id: uuid.UUID | None = None
    ending_within_seconds: int | None = None
    has_buy_now: bool | None = None
    reserve_met: bool | None = None


# Ten years: a longer "ending within" asks for everything and must not overflow a date.
MAX_ENDING_WITHIN_SECONDS = 10 * 365 * 86400
_SEALED = (AuctionType.SEALED_FIRST_PRICE.value, AuctionType.SEALED_SECOND_PRICE.value)
# An open sealed auction's row holds its hidden highest bid: it filters and sorts by its
# public starting price (domain/public_state.py), as the API shows it.
_hidden = and_(col(Auction.type).in_(_SEALED), col(Auction.status) != AuctionStatus.ENDED.value)
_price = case(
    (_hidden, Auction.starting_price),
    else_=func.coalesce(Auction.current_price, Auction.starting_price),
)
# `reserveMet` as the API shows it: no reserve, or reached; sealed: only a SOLD end.
_reserve_met = or_(
    col(Auction.reserve_price).is_(None),
    func.coalesce(
        case(
            (col(Auction.type).in_(_SEALED), col(Auction.outcome) == "SOLD"),
            else_=col(Auction.current_price) >= col(Auction.reserve_price),
        ),
        False,
    ),
)
_listed = func.coalesce(Auction.published_at, Auction.created_at)
_exponent = case(
    *[(col(Auction.currency) == c, e) for c, e in CURRENCY_EXPONENTS.items() if e != 2], else_=2
)
_major_price = cast(_price, Numeric) / func.power(literal(10, Numeric), _exponent)

# sort → (key expression, ascending?) ; ties break on id in the same direction.
_SORTS: dict[AuctionSort, tuple[Any, bool]] = {
    AuctionSort.ENDING_SOON: (Auction.ends_at, True),
    AuctionSort.NEWLY_LISTED: (_listed, False),
    AuctionSort.RELEVANCE: (_listed, False),
    AuctionSort.PRICE_ASC: (_price, True),
    AuctionSort.PRICE_DESC: (_price, False),
    AuctionSort.MOST_BIDS: (Auction.bid_count, False),
}


_TIME_SORTS = (AuctionSort.ENDING_SOON, AuctionSort.NEWLY_LISTED, AuctionSort.RELEVANCE)


def _sort_value(auction: Auction, sort: AuctionSort) -> Any:
    if sort is AuctionSort.ENDING_SOON:
        return auction.ends_at
    if sort in (AuctionSort.NEWLY_LISTED, AuctionSort.RELEVANCE):
        return auction.published_at or auction.created_at
    if sort in (AuctionSort.PRICE_ASC, AuctionSort.PRICE_DESC):
        hidden = AuctionType(auction.type).sealed and auction.status != AuctionStatus.ENDED.value
        if hidden or auction.current_price is None:
            return auction.starting_price
        return auction.current_price
    return auction.bid_count


def is_admin(viewer: User | None) -> bool:
    return viewer is not None and Role.ADMIN.value in viewer.roles


def visible(auction: Auction, viewer: User | None) -> bool:
    if auction.status != AuctionStatus.DRAFT.value:
        return True
    return viewer is not None and (auction.seller_id == viewer.id or is_admin(viewer))


def _conditions(f: AuctionFilter, viewer: User | None, deps: Deps) -> list[Any]:
    where: list[Any] = []
    statuses = list(f.statuses) if f.statuses else list(PUBLIC_DEFAULT)
    where.append(col(Auction.status).in_([s.value for s in statuses]))
    if AuctionStatus.DRAFT in statuses and not is_admin(viewer):
        # Drafts are private: only the viewer's own show up.
        mine = col(Auction.seller_id) == (viewer.id if viewer else None)
        where.append(or_(col(Auction.status) != AuctionStatus.DRAFT.value, mine))
    if f.category:
        where.append(col(Item.category).in_(subtree(f.category)))
    if f.types:
        where.append(col(Auction.type).in_([t.value for t in f.types]))
    if f.conditions:
        where.append(col(Item.condition).in_([c.value for c in f.conditions]))
    check_filter(f)
    if f.min_price is not None:
        where.append(_major_price >= f.min_price)
    if f.max_price is not None:
        where.append(_major_price <= f.max_price)
    if f.seller_id is not None:
        where.append(Auction.seller_id == f.seller_id)
    if f.ending_within_seconds is not None:
        now = deps.clock()
        seconds = min(f.ending_within_seconds, MAX_ENDING_WITHIN_SECONDS)
        where.append(col(Auction.ends_at).between(now, now + timedelta(seconds=seconds)))
    if f.has_buy_now is not None:
        has = col(Auction.buy_now_price).is_not(None)
        where.append(has if f.has_buy_now else ~has)
    if f.reserve_met is not None:
        where.append(_reserve_met if f.reserve_met else ~_reserve_met)
    return where


def check_filter(f: AuctionFilter) -> None:
    """The checks browse and search share. Raises ValidationFailed: INVALID_AMOUNT (a
    negative or non-finite price bound), INVALID_INPUT (negative endingWithinSeconds);
    an unknown category raises UNKNOWN_CATEGORY where it is expanded."""
    for bound, field in ((f.min_price, "minPrice"), (f.max_price, "maxPrice")):
        if bound is not None and (not bound.is_finite() or bound < 0):
            raise ValidationFailed(
                f"{field} must be a non-negative amount", code="INVALID_AMOUNT", field=field
            )
    if f.ending_within_seconds is not None and f.ending_within_seconds < 0:
        raise ValidationFailed(
            "endingWithinSeconds must not be negative", field="endingWithinSeconds"
        )


async def list_auctions(
    deps: Deps,
    viewer: User | None,
    f: AuctionFilter,
    sort: AuctionSort,
    first: int | None,
    after: str | None,
    max_page: int,
) -> Page[Auction]:
    first = check_first(first, max_page)
    where = _conditions(f, viewer, deps)
    key, ascending = _SORTS[sort]
    base = select(Auction).join(Item, col(Item.id) == Auction.item_id).where(*where)
    query = base
    if after:
        if sort in _TIME_SORTS:
            value, row_id = decode_cursor(after, datetime)
        else:  # bid_count is an INTEGER column, prices BIGINT
            value, row_id = decode_cursor(
                after, int, INT32 if sort is AuctionSort.MOST_BIDS else INT64
            )
        pair = tuple_(key, Auction.id)
        query = query.where(pair > (value, row_id) if ascending else pair < (value, row_id))
    order = (
        (key.asc(), col(Auction.id).asc()) if ascending else (key.desc(), col(Auction.id).desc())
    )
    async with deps.uow() as uow:
        rows = (await uow.session.exec(query.order_by(*order).limit(first + 1))).all()
        total = (
            await uow.session.exec(
                select(func.count())
                .select_from(Auction)
                .join(Item, col(Item.id) == Auction.item_id)
                .where(*where)
            )
        ).one()
    return make_page(rows, first, total, lambda a: _sort_value(a, sort))


async def get_auction(deps: Deps, viewer: User | None, auction_id: uuid.UUID) -> Auction | None:
    async with deps.uow() as uow:
        auction = await uow.session.get(Auction, auction_id)
    return auction if auction is not None and visible(auction, viewer) else None


async def watchlist(
    deps: Deps, viewer: User, first: int | None, after: str | None, max_page: int
) -> Page[Auction]:
    # Ordered by the auction's creation; a watch's own time is not exposed.
    query = (
        select(Auction)
        .join(Watch, col(Watch.auction_id) == Auction.id)
        .where(Watch.user_id == viewer.id)
    )
    count = select(func.count()).select_from(Watch).where(Watch.user_id == viewer.id)
    return await newest_first(
        deps, query, Auction, col(Auction.created_at), first, after, max_page, count
    )


async def bids_of_user(
    deps: Deps, viewer: User, first: int | None, after: str | None, max_page: int
) -> Page[Bid]:
    query = select(Bid).where(Bid.bidder_id == viewer.id)
    count = select(func.count()).select_from(Bid).where(Bid.bidder_id == viewer.id)
    return await newest_first(deps, query, Bid, col(Bid.placed_at), first, after, max_page, count)


async def bids_of_auction(
    deps: Deps, auction_id: uuid.UUID, first: int | None, after: str | None, max_page: int
) -> Page[Bid]:
    query = select(Bid).where(Bid.auction_id == auction_id, col(Bid.voided_at).is_(None))
    count = (
        select(func.count())
        .select_from(Bid)
        .where(Bid.auction_id == auction_id, col(Bid.voided_at).is_(None))
    )
    return await newest_first(deps, query, Bid, col(Bid.placed_at), first, after, max_page, count)


async def notifications(
    deps: Deps,
    viewer: User,
    first: int | None,
    after: str | None,
    unread_only: bool | None,
    max_page: int,
) -> Page[Notification]:
    where: list[Any] = [col(Notification.user_id) == viewer.id]
    if unread_only:
        where.append(col(Notification.read_at).is_(None))
    query = select(Notification).where(*where)
    count = select(func.count()).select_from(Notification).where(*where)
    return await newest_first(
        deps, query, Notification, col(Notification.created_at), first, after, max_page, count
    )


async def purchases(
    deps: Deps, viewer: User, first: int | None, after: str | None, max_page: int
) -> Page[Transaction]:
    query = select(Transaction).where(Transaction.buyer_id == viewer.id)
    count = select(func.count()).select_from(Transaction).where(Transaction.buyer_id == viewer.id)
    return await newest_first(
        deps, query, Transaction, col(Transaction.created_at), first, after, max_page, count
    )


# Batch loads behind the per-request DataLoaders: one query per batch.


async def users_by_id(deps: Deps, ids: Sequence[uuid.UUID]) -> list[User | None]:
    return await one_per_key(deps, User, "id", ids)


async def items_by_id(deps: Deps, ids: Sequence[uuid.UUID]) -> list[Item | None]:
    return await one_per_key(deps, Item, "id", ids)


async def auctions_by_id(deps: Deps, ids: Sequence[uuid.UUID]) -> list[Auction | None]:
    return await one_per_key(deps, Auction, "id", ids)


async def images_by_item(deps: Deps, ids: Sequence[uuid.UUID]) -> list[list[ItemImage]]:
    return await all_per_key(deps, ItemImage, "item_id", ids, col(ItemImage.position))


async def watcher_counts(deps: Deps, ids: Sequence[uuid.UUID]) -> list[int]:
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Watch.auction_id, func.count())
                .where(col(Watch.auction_id).in_(ids))
                .group_by(col(Watch.auction_id))
            )
        ).all()
    counts = dict(rows)
    return [counts.get(i, 0) for i in ids]
