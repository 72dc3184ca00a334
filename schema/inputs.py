"""Input types of the contract."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.file_uploads import Upload

from schema.enums import AuctionStatus, AuctionType, ItemCondition


@strawberry.input
class RegisterInput:
    username: str
    email: str
    password: str


@strawberry.input
class AddressInput:
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str


@strawberry.input
class CreateAuctionInput:
    title: str
    description: str
    category: str
    condition: ItemCondition
    type: AuctionType
    currency: str = "USD"
    starting_price: Decimal
    reserve_price: Decimal | None = None
    buy_now_price: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime
    dutch_step: Decimal | None = None
    dutch_step_seconds: int | None = None
    dutch_floor: Decimal | None = None
    soft_close_window_seconds: int | None = 120
    soft_close_extension_seconds: int | None = 120
    hard_close_at: datetime | None = None
    image_uploads: list[Upload] | None = None


@strawberry.input(description="Fields left null stay as they are.")
class UpdateAuctionInput:
    title: str | None = None
    description: str | None = None
    category: str | None = None
    condition: ItemCondition | None = None
    starting_price: Decimal | None = None
    reserve_price: Decimal | None = None
    buy_now_price: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@strawberry.input
class AuctionFilter:
    category: str | None = None
    types: list[AuctionType] | None = None
    statuses: list[AuctionStatus] | None = None
    conditions: list[ItemCondition] | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    seller_id: strawberry.ID | None = None
    ending_within_seconds: int | None = None
    has_buy_now: bool | None = strawberry.field(
        default=None, description="Only auctions with (true) or without (false) a buy-now price."
    )
    reserve_met: bool | None = strawberry.field(
        default=None,
        description="Only auctions whose reserveMet is this (sealed: known once SOLD).",
    )
