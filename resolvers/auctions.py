"""Listing mutations and the browsing queries."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from domain.categories import CATEGORIES
from domain.enums import AuctionSort as Sort
from domain.enums import AuctionStatus as Status
from domain.enums import AuctionType as Type
from domain.enums import ItemCondition as Condition
from domain.listing import ListingChanges, ListingInput
from schema.auction_types import Auction, AuctionConnection, auction_connection
from schema.context import Ctx
from schema.enums import AuctionSort
from schema.inputs import AuctionFilter, CreateAuctionInput, UpdateAuctionInput
from schema.payloads import CreateAuctionPayload, SimplePayload
from services import catalog, listings
from services.listings import ImageUpload

from .common import as_payload, parse_id, viewer


def _failed(error: object) -> CreateAuctionPayload:
    return CreateAuctionPayload(errors=[error])  # type: ignore[list-item]


async def _read_uploads(uploads: list[Upload] | None) -> list[ImageUpload]:
    images = []
    for upload in uploads or []:
        data = await upload.read()  # type: ignore[attr-defined]  # starlette UploadFile
        images.append(ImageUpload(data=data))
    return images


async def create_auction(info: Ctx, input: CreateAuctionInput) -> CreateAuctionPayload:
    async def act() -> CreateAuctionPayload:
        listing = ListingInput(
            title=input.title,
            description=input.description,
            category=input.category,
            condition=Condition(input.condition),
            type=Type(input.type),
            currency=input.currency,
            starting_price=input.starting_price,
            ends_at=input.ends_at,
            reserve_price=input.reserve_price,
            buy_now_price=input.buy_now_price,
            starts_at=input.starts_at,
            dutch_step=input.dutch_step,
            dutch_step_seconds=input.dutch_step_seconds,
            dutch_floor=input.dutch_floor,
            soft_close_window_seconds=input.soft_close_window_seconds,
            soft_close_extension_seconds=input.soft_close_extension_seconds,
            hard_close_at=input.hard_close_at,
        )
        row = await listings.create_auction(
            info.context.deps, viewer(info), listing, await _read_uploads(input.image_uploads)
        )
        return CreateAuctionPayload(auction=Auction(row=row))

    return await as_payload(_failed, act)


async def update_auction(
    info: Ctx, auction_id: strawberry.ID, input: UpdateAuctionInput
) -> CreateAuctionPayload:
    async def act() -> CreateAuctionPayload:
        changes = ListingChanges(
            title=input.title,
            description=input.description,
            category=input.category,
            condition=Condition(input.condition) if input.condition else None,
            starting_price=input.starting_price,
            reserve_price=input.reserve_price,
            buy_now_price=input.buy_now_price,
            starts_at=input.starts_at,
            ends_at=input.ends_at,
        )
        row = await listings.update_auction(
            info.context.deps, viewer(info), parse_id(auction_id, "auctionId"), changes
        )
        return CreateAuctionPayload(auction=Auction(row=row))

    return await as_payload(_failed, act)


async def publish_auction(info: Ctx, auction_id: strawberry.ID) -> CreateAuctionPayload:
    async def act() -> CreateAuctionPayload:
        row = await listings.publish_auction(
            info.context.deps, viewer(info), parse_id(auction_id, "auctionId")
        )
        return CreateAuctionPayload(auction=Auction(row=row))

    return await as_payload(_failed, act)


async def cancel_auction(
    info: Ctx, auction_id: strawberry.ID, reason: str | None = None
) -> CreateAuctionPayload:
    async def act() -> CreateAuctionPayload:
        row = await listings.cancel_auction(
            info.context.deps, viewer(info), parse_id(auction_id, "auctionId"), reason
        )
        return CreateAuctionPayload(auction=Auction(row=row))

    return await as_payload(_failed, act)


async def watch_auction(info: Ctx, auction_id: strawberry.ID) -> SimplePayload:
    async def act() -> SimplePayload:
        await listings.watch(info.context.deps, viewer(info), parse_id(auction_id, "auctionId"))
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def unwatch_auction(info: Ctx, auction_id: strawberry.ID) -> SimplePayload:
    async def act() -> SimplePayload:
        await listings.unwatch(info.context.deps, viewer(info), parse_id(auction_id, "auctionId"))
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def auction(info: Ctx, id: strawberry.ID) -> Auction | None:
    row = await catalog.get_auction(info.context.deps, info.context.viewer, parse_id(id))
    return Auction(row=row) if row is not None else None


def to_filter(f: AuctionFilter | None) -> catalog.AuctionFilter:
    if f is None:
        return catalog.AuctionFilter()
    return catalog.AuctionFilter(
        category=f.category,
        types=[Type(t) for t in f.types] if f.types else None,
        statuses=[Status(s) for s in f.statuses] if f.statuses else None,
        conditions=[Condition(c) for c in f.conditions] if f.conditions else None,
        min_price=f.min_price,
        max_price=f.max_price,
        seller_id=parse_id(f.seller_id, "sellerId") if f.seller_id else None,
        ending_within_seconds=f.ending_within_seconds,
        has_buy_now=f.has_buy_now,
        reserve_met=f.reserve_met,
    )


async def auctions(
    info: Ctx,
    filter: AuctionFilter | None = None,
    sort: AuctionSort | None = Sort.ENDING_SOON,
    first: int | None = 20,
    after: str | None = None,
) -> AuctionConnection:
    page = await catalog.list_auctions(
        info.context.deps,
        info.context.viewer,
        to_filter(filter),
        Sort(sort or Sort.ENDING_SOON),
        first,
        after,
        info.context.max_page,
    )
    return auction_connection(page)


def categories() -> list[str]:
    return list(CATEGORIES)
