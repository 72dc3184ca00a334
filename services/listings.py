"""Seller and admin use cases on auctions: create, update, publish, cancel; watching."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, delete, select

from domain.enums import AuctionStatus, AuctionType, ItemCondition, Role
from domain.errors import Forbidden, NotFound
from domain.events import BidAccepted
from domain.lifecycle import check_cancellable, check_editable, status_on_publish
from domain.listing import (
    AuctionTerms,
    ListingChanges,
    ListingInput,
    apply_changes,
    validate_listing,
)
from domain.slot_results import AlreadyOver, CancelApplied, CancelRefused, SlotMissing
from realtime.events import publish
from realtime.slot_seeding import seed_for
from services.audit import audit_row, snapshot
from services.audit import changes as changed_fields
from services.deps import Deps
from storage.notification_writer import NewNotification, add_notifications
from storage.tables import Auction, Bid, Item, ItemImage, User, Watch
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class ImageUpload:
    data: bytes


def _is_admin(user: User) -> bool:
    return Role.ADMIN.value in user.roles


def _terms_of(auction: Auction, item: Item) -> AuctionTerms:
    return AuctionTerms(
        title=item.title,
        description=item.description,
        category=item.category,
        condition=ItemCondition(item.condition),
        type=AuctionType(auction.type),
        currency=auction.currency,
        starting_price=auction.starting_price,
        ends_at=auction.ends_at,
        reserve_price=auction.reserve_price,
        buy_now_price=auction.buy_now_price,
        starts_at=auction.starts_at,
        dutch_step=auction.dutch_step,
        dutch_step_seconds=auction.dutch_step_seconds,
        dutch_floor=auction.dutch_floor,
        soft_close_window_seconds=auction.soft_close_window_seconds,
        soft_close_extension_seconds=auction.soft_close_extension_seconds,
        hard_close_at=auction.hard_close_at,
    )


def _write_terms(terms: AuctionTerms, auction: Auction, item: Item, now: datetime) -> None:
    item.title, item.description = terms.title, terms.description
    item.category, item.condition = terms.category, terms.condition.value
    for name in (
        "starting_price",
        "ends_at",
        "reserve_price",
        "buy_now_price",
        "starts_at",
        "dutch_step",
        "dutch_step_seconds",
        "dutch_floor",
        "soft_close_window_seconds",
        "soft_close_extension_seconds",
        "hard_close_at",
    ):
        setattr(auction, name, getattr(terms, name))
    auction.updated_at = now


async def create_auction(
    deps: Deps, actor: User, listing: ListingInput, images: list[ImageUpload] | None = None
) -> Auction:
    """A DRAFT auction with its images (adapters/images.py). Raises Forbidden
    (NOT_SELLER), ValidationFailed (the listing or an image), RateLimited (listings per
    user, counted once the listing is valid and before any image is decoded) or
    Unavailable (no image worker came free in time); nothing is created then."""
    if Role.SELLER.value not in actor.roles:
        raise Forbidden("only sellers can list; call becomeSeller first", code="NOT_SELLER")
    now = deps.clock()
    terms = validate_listing(listing, now=now, policy=deps.listing_policy)
    await deps.throttle.listing(actor.id)  # before the images' CPU (adapters/images.py)
    blobs = [img.data for img in images or []]
    cleaned = await deps.images.prepare(blobs)
    stored = [await deps.images.save(image) for image in cleaned]
    async with deps.uow() as uow:
        item = Item(
            seller_id=actor.id,
            title="",
            description="",
            category=terms.category,
            condition=terms.condition.value,
        )
        auction = Auction(
            item_id=item.id,
            seller_id=actor.id,
            type=terms.type.value,
            currency=terms.currency,
            starting_price=terms.starting_price,
            ends_at=terms.ends_at,
            status=AuctionStatus.DRAFT.value,
        )
        _write_terms(terms, auction, item, now)
        uow.session.add(item)
        await uow.session.flush()
        uow.session.add(auction)
        for position, image in enumerate(stored):
            uow.session.add(
                ItemImage(
                    item_id=item.id,
                    position=position,
                    storage_key=image.key,
                    content_type=image.content_type,
                    size_bytes=image.size_bytes,
                )
            )
        _audit(uow, actor, "auction.create", auction.id, after={"status": auction.status})
        await uow.commit()
        return auction


async def _own_auction(uow: UnitOfWork, actor: User, auction_id: uuid.UUID) -> tuple[Auction, Item]:
    auction = await uow.session.get(Auction, auction_id, with_for_update=True)
    # Someone else's draft is reported as missing: drafts are private.
    if auction is None or (
        auction.seller_id != actor.id
        and not (_is_admin(actor) and auction.status != AuctionStatus.DRAFT.value)
    ):
        if auction is not None and auction.status != AuctionStatus.DRAFT.value:
            raise Forbidden("this is another seller's auction", field="auctionId")
        raise NotFound("no such auction", field="auctionId")
    item = await uow.session.get(Item, auction.item_id, with_for_update=True)
    assert item is not None
    return auction, item


def _audit(
    uow: UnitOfWork,
    actor: User,
    action: str,
    auction_id: uuid.UUID,
    *,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
    reason: str | None = None,
    **facts: Any,
) -> None:
    uow.session.add(
        audit_row(
            actor.id,
            action,
            "auction",
            auction_id,
            before=before,
            after=after,
            reason=reason,
            **facts,
        )
    )


async def update_auction(
    deps: Deps, actor: User, auction_id: uuid.UUID, changes: ListingChanges
) -> Auction:
    async with deps.uow() as uow:
        auction, item = await _own_auction(uow, actor, auction_id)
        if auction.seller_id != actor.id:
            raise Forbidden("only the seller edits a listing", field="auctionId")
        check_editable(AuctionStatus(auction.status), auction.bid_count)
        now = deps.clock()
        terms = apply_changes(
            _terms_of(auction, item), changes, now=now, policy=deps.listing_policy
        )
        if auction.status == AuctionStatus.SCHEDULED.value and (
            terms.starts_at is None or terms.starts_at <= now
        ):
            # A scheduled auction keeps a future start; to start now, cancel and relist.
            raise Forbidden(
                "a scheduled auction's start must stay in the future",
                code="INVALID_SCHEDULE",
                field="startsAt",
            )
        was = snapshot(auction) | snapshot(item, prefix="item.")
        _write_terms(terms, auction, item, now)
        before, after = changed_fields(was, snapshot(auction) | snapshot(item, prefix="item."))
        _audit(uow, actor, "auction.update", auction.id, before=before, after=after)
        await uow.commit()
        return auction


async def publish_auction(deps: Deps, actor: User, auction_id: uuid.UUID) -> Auction:
    async with deps.uow() as uow:
        auction, item = await _own_auction(uow, actor, auction_id)
        if auction.seller_id != actor.id:
            raise Forbidden("only the seller publishes a listing", field="auctionId")
        now = deps.clock()
        status = status_on_publish(AuctionStatus(auction.status), auction.starts_at, now)
        # The schedule is checked again: a draft may have sat until its end time is near.
        apply_changes(
            _terms_of(auction, item), ListingChanges(), now=now, policy=deps.listing_policy
        )
        auction.status = status.value
        auction.published_at = now
        if status is AuctionStatus.ACTIVE:
            auction.starts_at = now
            auction.activated_at = now
        auction.updated_at = now
        _audit(
            uow,
            actor,
            "auction.publish",
            auction.id,
            before={"status": AuctionStatus.DRAFT.value},
            after={"status": status.value, "starts_at": auction.starts_at},
        )
        seed = await seed_for(uow, auction) if status is AuctionStatus.ACTIVE else None
        await uow.commit()
    if seed is not None:
        await deps.slots.create(seed)
    return auction


async def cancel_auction(
    deps: Deps, actor: User, auction_id: uuid.UUID, reason: str | None
) -> Auction:
    """Cancel a DRAFT, SCHEDULED or ACTIVE auction; returns the CANCELLED row.

    SPEC section 3: a seller cancels only before the first bid; an admin cancels any
    auction, its bids voided and its bidders notified. Errors: NOT_FOUND, FORBIDDEN
    (another seller's auction, or a bid already accepted), INVALID_STATE (ENDED or
    CANCELLED already, also when the end came first).

    One decision, taken under the row lock that publishing, updating and activation also
    take, so the status read is the status acted on. An ACTIVE auction is stopped in its
    slot within that lock, and the cancel script itself checks the bid count: a bid the
    slot accepted a moment earlier refuses a seller's cancel, and an end that came first
    wins. Bids the persister records later are voided by it (the row is CANCELLED).
    """
    note = (reason or "").strip()[:500] or None
    by_admin = _is_admin(actor)
    async with deps.uow() as uow:
        auction, _ = await _own_auction(uow, actor, auction_id)
        check_cancellable(AuctionStatus(auction.status), auction.bid_count, by_admin=by_admin)
        before = {
            "status": auction.status,
            "bid_count": auction.bid_count,
            "current_price": auction.current_price,
            "leader_id": auction.leader_id,
        }
        stopped = None
        if auction.status == AuctionStatus.ACTIVE.value:
            stopped = await _stop_bidding(deps, uow, auction, note, by_admin=by_admin)
        now = deps.clock()
        auction.status = AuctionStatus.CANCELLED.value
        auction.cancelled_at = auction.cancelled_at or now
        auction.cancel_reason = note
        auction.updated_at = now
        voided = 0
        if stopped is not None and stopped.bid_count:
            voided = await _void_bids(deps, uow, auction, now)
        if stopped is not None and stopped.bid_count is not None:
            # The slot's count is the truth; the row's may lag the persister.
            before["bid_count"] = stopped.bid_count
        _audit(
            uow,
            actor,
            "auction.cancel",
            auction.id,
            before=before,
            after={"status": auction.status, "cancelled_at": auction.cancelled_at},
            reason=note,
            by_admin=by_admin,
            voided_bids=voided,
        )
        await uow.commit()
    if stopped is not None:
        if isinstance(stopped, CancelApplied):
            await publish(deps.bus, auction_id, [stopped.event])
        if deps.outbox is not None:
            await deps.outbox.drain([str(auction_id)])
    return auction


async def _stop_bidding(
    deps: Deps, uow: UnitOfWork, auction: Auction, note: str | None, *, by_admin: bool
) -> CancelApplied | AlreadyOver:
    """Cancel the slot of an ACTIVE auction (the caller holds its row lock); AlreadyOver
    when a cancel came first. Raises as `check_cancellable` when the slot refused or the
    auction had ended."""
    result = await deps.slots.cancel(auction.id, note or "", only_before_bids=not by_admin)
    if isinstance(result, SlotMissing):
        # Just activated (the slot is created after the commit that made the row ACTIVE),
        # or lost by Redis: create it from the record and cancel it, so that no later
        # create can bring it back ACTIVE (creating a slot that exists changes nothing).
        await deps.slots.create(await seed_for(uow, auction))
        result = await deps.slots.cancel(auction.id, note or "", only_before_bids=not by_admin)
    if isinstance(result, SlotMissing):
        raise RuntimeError(f"the slot of auction {auction.id} vanished while cancelling")
    if isinstance(result, CancelRefused):
        check_cancellable(AuctionStatus.ACTIVE, result.bid_count, by_admin=by_admin)
        raise AssertionError("a refused cancel is not cancellable")  # check_cancellable raised
    if isinstance(result, AlreadyOver) and result.status != AuctionStatus.CANCELLED.value:
        check_cancellable(AuctionStatus(result.status), 0, by_admin=by_admin)
    return result


async def _void_bids(deps: Deps, uow: UnitOfWork, auction: Auction, now: datetime) -> int:
    """Void the recorded bids and notify every bidder the slot accepted (its event stream
    names them all, recorded yet or not); returns how many recorded bids it voided."""
    voided = await uow.session.exec(
        update(Bid)
        .where(col(Bid.auction_id) == auction.id, col(Bid.voided_at).is_(None))
        .values(voided_at=now)
    )
    recorded = await uow.session.exec(
        select(Bid.bidder_id).where(Bid.auction_id == auction.id).distinct()
    )
    bidders = {str(bidder_id) for bidder_id in recorded.all()}  # a rebuilt slot's stream is short
    seen = 0
    while True:
        events = await deps.slots.events_since(auction.id, seen)
        if not events:
            break
        seen = events[-1].sequence
        bidders.update(e.bidder for e in events if isinstance(e, BidAccepted) and e.bidder)
    watched = await uow.session.exec(select(Watch.user_id).where(Watch.auction_id == auction.id))
    watchers = {str(user_id) for user_id in watched.all()} - bidders
    # The dedupe key keeps it once per user even if a cancel were ever retried.
    await add_notifications(
        uow.session,
        [
            NewNotification(
                user_id=uuid.UUID(user_id),
                kind="AUCTION_CANCELLED",
                auction_id=auction.id,
                message=(
                    "An auction you bid on was cancelled; your bids are void."
                    if user_id in bidders
                    else "An auction you watch was cancelled."
                ),
                dedupe_key=f"AUCTION_CANCELLED:{auction.id}",
            )
            for user_id in sorted(bidders | watchers)
            if user_id != str(auction.seller_id)
        ],
    )
    return int(voided.rowcount)


async def watch(deps: Deps, actor: User, auction_id: uuid.UUID) -> None:
    async with deps.uow() as uow:
        auction = await uow.session.get(Auction, auction_id)
        if auction is None or (
            auction.status == AuctionStatus.DRAFT.value and auction.seller_id != actor.id
        ):
            raise NotFound("no such auction", field="auctionId")
        added = await uow.session.exec(
            insert(Watch)
            .values(user_id=actor.id, auction_id=auction_id, created_at=deps.clock())
            .on_conflict_do_nothing()
        )
        await uow.commit()
    if added.rowcount and deps.activity is not None:  # a new watcher raises trending
        await deps.activity.watched(auction, actor)


async def unwatch(deps: Deps, actor: User, auction_id: uuid.UUID) -> None:
    async with deps.uow() as uow:
        await uow.session.exec(
            delete(Watch).where(col(Watch.user_id) == actor.id, col(Watch.auction_id) == auction_id)
        )
        await uow.commit()
