"""Rules for listing an auction: every auction type's parameters, checked before anything is stored.

Input arrives as `ListingInput` (Decimal amounts, optional fields) and leaves as
`AuctionTerms` (integer minor units, normalised text) or a `ValidationFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from domain.categories import check_category
from domain.enums import AuctionType, ItemCondition
from domain.errors import ValidationFailed
from domain.money import check_currency, to_minor
from domain.text import check_text

MAX_TITLE = 140
MAX_DESCRIPTION = 10_000
MAX_SOFT_CLOSE_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class ListingPolicy:
    min_duration: timedelta
    max_duration: timedelta


@dataclass(frozen=True, slots=True)
class ListingInput:
    title: str
    description: str
    category: str
    condition: ItemCondition
    type: AuctionType
    currency: str
    starting_price: Decimal
    ends_at: datetime
    reserve_price: Decimal | None = None
    buy_now_price: Decimal | None = None
    starts_at: datetime | None = None
    dutch_step: Decimal | None = None
    dutch_step_seconds: int | None = None
    dutch_floor: Decimal | None = None
    soft_close_window_seconds: int | None = 120
    soft_close_extension_seconds: int | None = 120
    hard_close_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuctionTerms:
    """A listing whose every field has been checked; money in minor units."""

    title: str
    description: str
    category: str
    condition: ItemCondition
    type: AuctionType
    currency: str
    starting_price: int
    ends_at: datetime
    reserve_price: int | None
    buy_now_price: int | None
    starts_at: datetime | None
    dutch_step: int | None
    dutch_step_seconds: int | None
    dutch_floor: int | None
    soft_close_window_seconds: int | None
    soft_close_extension_seconds: int | None
    hard_close_at: datetime | None


@dataclass(frozen=True, slots=True)
class ListingChanges:
    """Fields of an update; None leaves the stored value as it is."""

    title: str | None = None
    description: str | None = None
    category: str | None = None
    condition: ItemCondition | None = None
    starting_price: Decimal | None = None
    reserve_price: Decimal | None = None
    buy_now_price: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def _text(value: str, field: str, limit: int, *, minimum: int = 1, multiline: bool = False) -> str:
    text = check_text(value.strip(), field, multiline=multiline)
    if len(text) < minimum:
        raise ValidationFailed(f"{field} needs at least {minimum} characters", field=field)
    if len(text) > limit:
        raise ValidationFailed(
            f"{field} must have at most {limit} characters", code="TOO_LONG", field=field
        )
    return text


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(f"{field} needs a time zone offset", field=field)
    return value


def _seconds(value: int | None, field: str, *, minimum: int, maximum: int) -> int | None:
    if value is None:
        return None
    if not minimum <= value <= maximum:
        raise ValidationFailed(
            f"{field} must be between {minimum} and {maximum} seconds", field=field
        )
    return value


def validate_listing(raw: ListingInput, *, now: datetime, policy: ListingPolicy) -> AuctionTerms:
    currency = check_currency(raw.currency)

    def money(value: Decimal | None, field: str) -> int | None:
        return None if value is None else to_minor(value, currency, field=field)

    auction_type = AuctionType(raw.type)
    english = auction_type is AuctionType.ENGLISH
    dutch = auction_type is AuctionType.DUTCH
    terms = AuctionTerms(
        title=_text(raw.title, "title", MAX_TITLE, minimum=3),
        description=_text(raw.description, "description", MAX_DESCRIPTION, multiline=True),
        category=check_category(raw.category),
        condition=ItemCondition(raw.condition),
        type=auction_type,
        currency=currency,
        starting_price=to_minor(raw.starting_price, currency, field="startingPrice"),
        ends_at=raw.ends_at,
        reserve_price=money(raw.reserve_price, "reservePrice"),
        buy_now_price=money(raw.buy_now_price, "buyNowPrice"),
        starts_at=raw.starts_at,
        dutch_step=money(raw.dutch_step, "dutchStep"),
        dutch_step_seconds=raw.dutch_step_seconds,
        dutch_floor=money(raw.dutch_floor, "dutchFloor"),
        # Soft close is an English rule; other types ignore the contract's defaults.
        soft_close_window_seconds=_seconds(
            raw.soft_close_window_seconds if english else None,
            "softCloseWindowSeconds",
            minimum=0,
            maximum=MAX_SOFT_CLOSE_SECONDS,
        ),
        soft_close_extension_seconds=_seconds(
            raw.soft_close_extension_seconds if english else None,
            "softCloseExtensionSeconds",
            minimum=0,
            maximum=MAX_SOFT_CLOSE_SECONDS,
        ),
        hard_close_at=raw.hard_close_at,
    )
    if not dutch and any(
        v is not None for v in (raw.dutch_step, raw.dutch_step_seconds, raw.dutch_floor)
    ):
        raise ValidationFailed(
            "dutchStep, dutchStepSeconds and dutchFloor are for DUTCH auctions", field="dutchStep"
        )
    if not english and raw.hard_close_at is not None:
        raise ValidationFailed("hardCloseAt applies to ENGLISH auctions only", field="hardCloseAt")
    return check_terms(terms, now=now, policy=policy)


def check_terms(terms: AuctionTerms, *, now: datetime, policy: ListingPolicy) -> AuctionTerms:
    """The cross-field rules, run on creation and again after every update."""
    if terms.starting_price <= 0:
        raise ValidationFailed(
            "startingPrice must be above zero", code="INVALID_AMOUNT", field="startingPrice"
        )
    if terms.reserve_price is not None:
        if terms.type is AuctionType.DUTCH:
            raise ValidationFailed(
                "DUTCH auctions use dutchFloor, not a reserve", field="reservePrice"
            )
        if terms.reserve_price < terms.starting_price:
            raise ValidationFailed(
                "reservePrice must be at least the startingPrice",
                code="INVALID_AMOUNT",
                field="reservePrice",
            )
    if terms.buy_now_price is not None:
        if terms.type is not AuctionType.ENGLISH:
            raise ValidationFailed(
                "buyNowPrice applies to ENGLISH auctions only", field="buyNowPrice"
            )
        floor = max(terms.starting_price, terms.reserve_price or 0)
        if terms.buy_now_price <= floor:
            raise ValidationFailed(
                "buyNowPrice must be above the starting and reserve prices",
                code="INVALID_AMOUNT",
                field="buyNowPrice",
            )
    if terms.type is AuctionType.DUTCH:
        _check_dutch(terms)
    _check_schedule(terms, now=now, policy=policy)
    return terms


def _check_dutch(terms: AuctionTerms) -> None:
    if terms.dutch_step is None or terms.dutch_step <= 0:
        raise ValidationFailed(
            "DUTCH auctions need a dutchStep above zero", code="INVALID_AMOUNT", field="dutchStep"
        )
    if terms.dutch_step_seconds is None or not 1 <= terms.dutch_step_seconds <= 86_400:
        raise ValidationFailed(
            "DUTCH auctions need dutchStepSeconds between 1 and 86400", field="dutchStepSeconds"
        )
    if terms.dutch_floor is None:
        raise ValidationFailed("DUTCH auctions need a dutchFloor", field="dutchFloor")
    if terms.dutch_floor >= terms.starting_price:
        raise ValidationFailed(
            "dutchFloor must be below the startingPrice", code="INVALID_AMOUNT", field="dutchFloor"
        )
    if terms.dutch_step > terms.starting_price - terms.dutch_floor:
        raise ValidationFailed(
            "dutchStep must not exceed startingPrice - dutchFloor",
            code="INVALID_AMOUNT",
            field="dutchStep",
        )


def _check_schedule(terms: AuctionTerms, *, now: datetime, policy: ListingPolicy) -> None:
    _aware(terms.starts_at, "startsAt")
    _aware(terms.ends_at, "endsAt")
    _aware(terms.hard_close_at, "hardCloseAt")
    start = max(now, terms.starts_at) if terms.starts_at is not None else now
    if terms.starts_at is not None and terms.ends_at <= terms.starts_at:
        raise ValidationFailed(
            "endsAt must be after startsAt", code="INVALID_SCHEDULE", field="endsAt"
        )
    if terms.ends_at - start < policy.min_duration:
        raise ValidationFailed(
            f"the auction must run at least {int(policy.min_duration.total_seconds())} seconds"
            " from now",
            code="INVALID_SCHEDULE",
            field="endsAt",
        )
    if terms.ends_at - start > policy.max_duration:
        raise ValidationFailed(
            f"the auction may run at most {policy.max_duration.days} days",
            code="INVALID_SCHEDULE",
            field="endsAt",
        )
    if terms.hard_close_at is not None and terms.hard_close_at < terms.ends_at:
        raise ValidationFailed(
            "hardCloseAt must not be before endsAt", code="INVALID_SCHEDULE", field="hardCloseAt"
        )


def apply_changes(
    terms: AuctionTerms, changes: ListingChanges, *, now: datetime, policy: ListingPolicy
) -> AuctionTerms:
    currency = terms.currency

    def money(value: Decimal | None, field: str, current: int | None) -> int | None:
        return current if value is None else to_minor(value, currency, field=field)

    updated = replace(
        terms,
        title=terms.title
        if changes.title is None
        else _text(changes.title, "title", MAX_TITLE, minimum=3),
        description=terms.description
        if changes.description is None
        else _text(changes.description, "description", MAX_DESCRIPTION, multiline=True),
        category=terms.category if changes.category is None else check_category(changes.category),
        condition=changes.condition or terms.condition,
        starting_price=money(changes.starting_price, "startingPrice", terms.starting_price) or 0,
        reserve_price=money(changes.reserve_price, "reservePrice", terms.reserve_price),
        buy_now_price=money(changes.buy_now_price, "buyNowPrice", terms.buy_now_price),
        starts_at=changes.starts_at or terms.starts_at,
        ends_at=changes.ends_at or terms.ends_at,
    )
    return check_terms(updated, now=now, policy=policy)
