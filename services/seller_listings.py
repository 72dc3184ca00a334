"""A seller's own listings, for the seller pages of the admin app (admin_ui/pages/listings.py).

Every read here is scoped to the viewer inside the service: `list_own` filters on
`seller_id = viewer.id` (an admin, too, sees only their own listings here: other sellers'
auctions are the admin pages' business), and `own_listing` answers NotFound for a
listing that is not the viewer's, whatever its status, so another seller's listing id
tells nothing. Changes go through services/listings.py (create, update, publish, cancel),
except the images of a listing being edited: `add_images` and `remove_image` below.

Prices are shown as the API shows them (domain/public_state.py): a sealed auction's
price stays hidden from its seller too until it ends; a Dutch auction shows its clock.
Money is integer minor units of the listing's currency.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import col, select

from adapters.images import MAX_IMAGES, probe
from domain.enums import AuctionStatus, AuctionType, Role
from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.lifecycle import check_editable
from domain.public_state import public_state_of
from domain.text import check_text
from services.audit import audit_row
from services.catalog import images_by_item, watcher_counts
from services.deps import Deps
from services.listings import ImageUpload
from storage.tables import Auction, Item, ItemImage, User
from storage.uow import UnitOfWork

MAX_PAGE = 100
MAX_OFFSET = 100_000
MAX_TEXT = 100

_SEALED = (AuctionType.SEALED_FIRST_PRICE.value, AuctionType.SEALED_SECOND_PRICE.value)
# The price a listing shows: an open sealed auction's row holds its hidden highest bid,
# so it sorts by its starting price (as services/catalog.py does for the public lists).
_hidden = and_(col(Auction.type).in_(_SEALED), col(Auction.status) != AuctionStatus.ENDED.value)
_price = case(
    (_hidden, Auction.starting_price),
    else_=func.coalesce(Auction.final_price, Auction.current_price, Auction.starting_price),
)

# The sorts the listings table offers: name → the column it orders by.
SORTS: dict[str, Any] = {
    "ends": Auction.ends_at,
    "created": Auction.created_at,
    "price": _price,
    "bids": Auction.bid_count,
}


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """What the listings table asks for: filters (empty: all), a sort of `SORTS`, a page."""

    statuses: Sequence[AuctionStatus] = ()
    types: Sequence[AuctionType] = ()
    text: str = ""  # part of the title, any case
    sort: str = "created"
    descending: bool = True
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True, slots=True)
class ListingRow:
    """One of the viewer's listings as the table shows it; money in minor units."""

    id: uuid.UUID
    title: str
    type: AuctionType
    status: AuctionStatus
    currency: str
    starting_price: int
    price: int | None  # the public current price; None: sealed until the end, or no bid yet
    bid_count: int
    watchers: int
    starts_at: datetime | None
    ends_at: datetime
    created_at: datetime
    thumbnail: str | None  # URL of the first image
    outcome: str | None

    @property
    def editable(self) -> bool:
        """Editable by its seller (domain/lifecycle.py check_editable)."""
        return self.status in (AuctionStatus.DRAFT, AuctionStatus.SCHEDULED) and self.bid_count == 0

    @property
    def publishable(self) -> bool:
        return self.status is AuctionStatus.DRAFT

    @property
    def cancellable(self) -> bool:
        """Cancellable by its seller: before the end and before the first bid (SPEC §3);
        the use case decides again under its lock."""
        live = (AuctionStatus.DRAFT, AuctionStatus.SCHEDULED, AuctionStatus.ACTIVE)
        return self.status in live and self.bid_count == 0


@dataclass(frozen=True, slots=True)
class ListingPage:
    rows: list[ListingRow]
    total: int  # rows matching the filters, all pages
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class ListingImage:
    id: uuid.UUID
    url: str


@dataclass(frozen=True, slots=True)
class OwnListing:
    """A listing of the viewer's with every term the form edits; money in minor units."""

    auction: Auction
    item: Item
    images: list[ListingImage]

    @property
    def status(self) -> AuctionStatus:
        return AuctionStatus(self.auction.status)

    @property
    def editable(self) -> bool:
        return (
            self.status in (AuctionStatus.DRAFT, AuctionStatus.SCHEDULED)
            and self.auction.bid_count == 0
        )


def _check_seller(viewer: User) -> None:
    if Role.SELLER.value not in viewer.roles and Role.ADMIN.value not in viewer.roles:
        raise Forbidden("only sellers have listings; call becomeSeller first", code="NOT_SELLER")


def check_query(query: ListingQuery) -> None:
    """Raises ValidationFailed (field "sort", "limit", "offset" or "text") for a query the
    table never sends: an unknown sort, a page size outside 1..MAX_PAGE, a negative or
    huge offset, a text longer than MAX_TEXT or holding NUL/control characters."""
    if query.sort not in SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(SORTS)}", field="sort")
    if not 1 <= query.limit <= MAX_PAGE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE}", code="INVALID_PAGE_SIZE", field="limit"
        )
    if not 0 <= query.offset <= MAX_OFFSET:
        raise ValidationFailed(f"offset must be between 0 and {MAX_OFFSET}", field="offset")
    if len(query.text) > MAX_TEXT:
        raise ValidationFailed(
            f"the search text has at most {MAX_TEXT} characters", code="TOO_LONG", field="text"
        )
    # PostgreSQL refuses NUL: say so in words rather than let the query fail.
    check_text(query.text, "text")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_own(deps: Deps, viewer: User, query: ListingQuery) -> ListingPage:
    """One page of the viewer's own listings (every status, drafts included), filtered
    and sorted on the server; ties break on the id, so pages never overlap.

    Raises Forbidden (NOT_SELLER) for an account that is neither seller nor admin, and
    ValidationFailed for a malformed query (`check_query`)."""
    _check_seller(viewer)
    check_query(query)
    where: list[Any] = [col(Auction.seller_id) == viewer.id]
    if query.statuses:
        where.append(col(Auction.status).in_([AuctionStatus(s).value for s in query.statuses]))
    if query.types:
        where.append(col(Auction.type).in_([AuctionType(t).value for t in query.types]))
    text = query.text.strip()
    if text:
        where.append(col(Item.title).ilike(f"%{_escape_like(text)}%", escape="\\"))
    key = SORTS[query.sort]
    order = (key.desc(), col(Auction.id).desc()) if query.descending else (key, col(Auction.id))
    async with deps.uow() as uow:
        found = (
            await uow.session.exec(
                select(Auction, Item)
                .join(Item, col(Item.id) == col(Auction.item_id))
                .where(*where)
                .order_by(*order)
                .offset(query.offset)
                .limit(query.limit)
            )
        ).all()
        total = (
            await uow.session.exec(
                select(func.count())
                .select_from(Auction)
                .join(Item, col(Item.id) == col(Auction.item_id))
                .where(*where)
            )
        ).one()
    auctions = [a for a, _ in found]
    watchers = await watcher_counts(deps, [a.id for a in auctions]) if auctions else []
    images = await images_by_item(deps, [a.item_id for a in auctions]) if auctions else []
    now = deps.clock()
    rows = [
        _row(deps, auction, item, watched, pictures, now)
        for (auction, item), watched, pictures in zip(found, watchers, images, strict=True)
    ]
    return ListingPage(rows=rows, total=int(total), offset=query.offset, limit=query.limit)


def _row(
    deps: Deps,
    auction: Auction,
    item: Item,
    watchers: int,
    images: list[ItemImage],
    now: datetime,
) -> ListingRow:
    state = public_state_of(auction, None, now)
    return ListingRow(
        id=auction.id,
        title=item.title,
        type=AuctionType(auction.type),
        status=AuctionStatus(auction.status),
        currency=auction.currency,
        starting_price=auction.starting_price,
        price=state.current_price,
        bid_count=auction.bid_count,
        watchers=watchers,
        starts_at=auction.starts_at,
        ends_at=auction.ends_at,
        created_at=auction.created_at,
        thumbnail=deps.images.url(images[0].storage_key) if images else None,
        outcome=auction.outcome,
    )


async def own_listing(deps: Deps, viewer: User, auction_id: uuid.UUID) -> OwnListing:
    """The viewer's own listing `auction_id` with its item and images, for the edit form.

    Raises NotFound (field "auctionId") when there is no such listing or it is not the
    viewer's (an admin's too: the form edits only one's own listings, as
    services/listings.update_auction allows), and Forbidden (NOT_SELLER) for an account
    that is neither seller nor admin."""
    _check_seller(viewer)
    async with deps.uow() as uow:
        found = (
            await uow.session.exec(
                select(Auction, Item)
                .join(Item, col(Item.id) == col(Auction.item_id))
                .where(col(Auction.id) == auction_id, col(Auction.seller_id) == viewer.id)
            )
        ).first()
    if found is None:
        raise NotFound("no such listing", field="auctionId")
    auction, item = found
    (pictures,) = await images_by_item(deps, [item.id])
    return OwnListing(
        auction=auction,
        item=item,
        images=[ListingImage(id=p.id, url=deps.images.url(p.storage_key)) for p in pictures],
    )


def parse_listing_id(raw: str) -> uuid.UUID:
    """A listing id from a page's path; NotFound for anything that is not a UUID (a
    mistyped link is a listing that does not exist, not an error)."""
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        raise NotFound("no such listing", field="auctionId") from None


async def check_image(data: bytes, index: int = 0) -> str:
    """The content type of an image about to be added to a listing, checked as
    createAuction will check it (adapters/images.py `probe`: its real type from its
    bytes, its size and dimensions, read from the headers without decoding a pixel),
    in a thread. Raises ValidationFailed (field "imageUploads") for a file the listing
    would refuse; the full check, and the re-encoding, run when the listing is saved."""
    probed = await asyncio.to_thread(probe, data, index)
    return probed.content_type


# -- the images of a listing being edited ---------------------------------------------
# createAuction stores a listing's first images; these add and remove images while the
# listing can still be edited (a DRAFT, or SCHEDULED without bids: domain/lifecycle.py),
# through the same checks: adapters/images.py prepares every upload (type from the bytes,
# markup refused, size and pixel caps, re-encoded), the count cap holds for the whole
# listing, and adding is charged to the same per-user rate as createAuction (it is the
# same CPU). Both are audited on the auction.


async def _own_editable(uow: UnitOfWork, actor: User, auction_id: uuid.UUID) -> Auction:
    """The actor's own listing, locked; NotFound when it is not theirs (an admin's too:
    only the seller edits a listing), InvalidState when it can no longer be edited."""
    auction = await uow.session.get(Auction, auction_id, with_for_update=True)
    if auction is None or auction.seller_id != actor.id:
        raise NotFound("no such listing", field="auctionId")
    check_editable(AuctionStatus(auction.status), auction.bid_count)
    return auction


async def _image_rows(uow: UnitOfWork, item_id: uuid.UUID) -> list[ItemImage]:
    found = await uow.session.exec(
        select(ItemImage).where(col(ItemImage.item_id) == item_id).order_by(col(ItemImage.position))
    )
    return list(found.all())


async def add_images(
    deps: Deps, actor: User, auction_id: uuid.UUID, uploads: Sequence[ImageUpload]
) -> list[ListingImage]:
    """Add `uploads` after the listing's images; returns all its images in order.

    Raises NotFound (not the actor's listing), InvalidState (no longer editable),
    ValidationFailed (field imageUploads: an image refused, or more than MAX_IMAGES in
    all), RateLimited (GAVEL_RATE_LISTING_USER) or Unavailable (no image worker came
    free in time); nothing is added then."""
    _check_seller(actor)
    async with deps.uow() as uow:
        auction = await _own_editable(uow, actor, auction_id)
        held = len(await _image_rows(uow, auction.item_id))
    _check_count(held, len(uploads))
    if not uploads:
        return (await own_listing(deps, actor, auction_id)).images
    await deps.throttle.listing(actor.id)  # before the images' CPU, as createAuction
    cleaned = await deps.images.prepare([u.data for u in uploads])
    saved = [await deps.images.save(image) for image in cleaned]
    async with deps.uow() as uow:
        auction = await _own_editable(uow, actor, auction_id)  # again, under the lock
        rows = await _image_rows(uow, auction.item_id)
        _check_count(len(rows), len(saved))
        start = max((r.position for r in rows), default=-1) + 1
        for offset, image in enumerate(saved):
            uow.session.add(
                ItemImage(
                    item_id=auction.item_id,
                    position=start + offset,
                    storage_key=image.key,
                    content_type=image.content_type,
                    size_bytes=image.size_bytes,
                )
            )
        uow.session.add(
            audit_row(
                actor.id,
                "auction.images.add",
                "auction",
                auction.id,
                after={"images": len(rows) + len(saved)},
                added=[image.key for image in saved],
            )
        )
        await uow.commit()
    return (await own_listing(deps, actor, auction_id)).images


def _check_count(held: int, adding: int) -> None:
    if held + adding > MAX_IMAGES:
        raise ValidationFailed(
            f"a listing has at most {MAX_IMAGES} images; this one has {held}",
            field="imageUploads",
        )


async def remove_image(
    deps: Deps, actor: User, auction_id: uuid.UUID, image_id: uuid.UUID
) -> list[ListingImage]:
    """Take image `image_id` off the listing; returns its images left, in order.

    Raises NotFound (not the actor's listing, or not one of its images) or InvalidState
    (no longer editable). The stored file stays (a URL handed out earlier keeps working)."""
    _check_seller(actor)
    async with deps.uow() as uow:
        auction = await _own_editable(uow, actor, auction_id)
        rows = await _image_rows(uow, auction.item_id)
        image = next((r for r in rows if r.id == image_id), None)
        if image is None:
            raise NotFound("no such image on this listing", field="imageId")
        await uow.session.delete(image)
        uow.session.add(
            audit_row(
                actor.id,
                "auction.images.remove",
                "auction",
                auction.id,
                before={"images": len(rows)},
                after={"images": len(rows) - 1},
                removed=image.storage_key,
            )
        )
        await uow.commit()
    return (await own_listing(deps, actor, auction_id)).images
