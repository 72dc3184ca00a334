"""The listing form's fields: labels, which auction type shows which field, and reading
what a person typed into the domain's inputs (domain/listing.py).

Amounts are typed in major units ("12.50") and read strictly by domain/money.py's
`parse_decimal` (the domain converts them to minor units); times are typed in the
viewer's timezone (an HTML `datetime-local` input) and stored in UTC. A value that cannot
be read raises `ValidationFailed` naming its field, like the domain's own refusals, so the
form shows both the same way: next to the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from admin_ui.messages import explain
from domain.categories import CATEGORIES
from domain.enums import AuctionStatus, AuctionType, ItemCondition
from domain.errors import DomainError, ValidationFailed
from domain.listing import ListingInput, ListingPolicy, validate_listing
from domain.money import parse_decimal, to_decimal

TYPE_LABELS = {
    AuctionType.ENGLISH: "English (ascending bids)",
    AuctionType.DUTCH: "Dutch (descending clock)",
    AuctionType.SEALED_FIRST_PRICE: "Sealed bid, first price",
    AuctionType.SEALED_SECOND_PRICE: "Sealed bid, second price",
}
SHORT_TYPE = {
    AuctionType.ENGLISH: "English",
    AuctionType.DUTCH: "Dutch",
    AuctionType.SEALED_FIRST_PRICE: "Sealed 1st",
    AuctionType.SEALED_SECOND_PRICE: "Sealed 2nd",
}
CONDITION_LABELS = {
    ItemCondition.NEW: "New",
    ItemCondition.LIKE_NEW: "Like new",
    ItemCondition.USED: "Used",
    ItemCondition.REFURBISHED: "Refurbished",
    ItemCondition.FOR_PARTS: "For parts",
}
STATUS_LABELS = {
    AuctionStatus.DRAFT: "Draft",
    AuctionStatus.SCHEDULED: "Scheduled",
    AuctionStatus.ACTIVE: "Live",
    AuctionStatus.ENDED: "Ended",
    AuctionStatus.CANCELLED: "Cancelled",
}
# Quasar colours: readable in light and dark mode alike.
STATUS_COLORS = {
    AuctionStatus.DRAFT: "grey",
    AuctionStatus.SCHEDULED: "info",
    AuctionStatus.ACTIVE: "positive",
    AuctionStatus.ENDED: "secondary",
    AuctionStatus.CANCELLED: "negative",
}

# The domain's field names (DomainError.field, the API's input names) and their labels.
LABELS = {
    "title": "Title",
    "description": "Description",
    "category": "Category",
    "condition": "Condition",
    "type": "Auction type",
    "currency": "Currency",
    "startingPrice": "Starting price",
    "reservePrice": "Reserve price",
    "buyNowPrice": "Buy-now price",
    "dutchFloor": "Floor price",
    "dutchStep": "Price step",
    "dutchStepSeconds": "Step every (seconds)",
    "softCloseWindowSeconds": "Soft-close window (seconds)",
    "softCloseExtensionSeconds": "Extension per late bid (seconds)",
    "hardCloseAt": "Hard close",
    "startsAt": "Starts",
    "endsAt": "Ends",
    "imageUploads": "Images",
}
COMMON = ("title", "description", "category", "condition", "currency", "startingPrice")
SCHEDULE = ("startsAt", "endsAt")
# The fields each auction type takes (domain/listing.py validate_listing and check_terms).
BY_TYPE: dict[AuctionType, tuple[str, ...]] = {
    AuctionType.ENGLISH: (
        "reservePrice",
        "buyNowPrice",
        "softCloseWindowSeconds",
        "softCloseExtensionSeconds",
        "hardCloseAt",
    ),
    AuctionType.DUTCH: ("dutchFloor", "dutchStep", "dutchStepSeconds"),
    AuctionType.SEALED_FIRST_PRICE: ("reservePrice",),
    AuctionType.SEALED_SECOND_PRICE: ("reservePrice",),
}
TYPE_FIELDS = frozenset(name for names in BY_TYPE.values() for name in names)
MONEY_FIELDS = frozenset(
    {"startingPrice", "reservePrice", "buyNowPrice", "dutchFloor", "dutchStep"}
)
SECONDS_FIELDS = frozenset(
    {"dutchStepSeconds", "softCloseWindowSeconds", "softCloseExtensionSeconds"}
)
TIME_FIELDS = frozenset({"startsAt", "endsAt", "hardCloseAt"})
# What services/listings.update_auction can change once a listing exists; the rest is
# fixed at creation (to change it, cancel the listing and list it again).
EDITABLE = frozenset({*COMMON, *SCHEDULE, "reservePrice", "buyNowPrice"} - {"currency"})

_SECONDS = re.compile(r"[0-9]{1,6}")
# Only the camelCase names ("title" or "currency" are also ordinary words of a message),
# also capitalised as messages/explain writes a sentence's first word.
_CAMELS = [n for n in LABELS if n != n.lower()]
_CAMEL = re.compile(
    r"\b("
    + "|".join(sorted(_CAMELS + [n[0].upper() + n[1:] for n in _CAMELS], key=len, reverse=True))
    + r")\b"
)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
# The years a typed time may fall in (after its conversion to UTC).
MIN_YEAR = 2000
MAX_YEAR = 2999  # what an HTML datetime-local input holds


def humanize(message: str) -> str:
    """The domain's message with its field names as the form labels them:
    "reservePrice must be at least the startingPrice" →
    "Reserve price must be at least the Starting price"."""
    text = _CAMEL.sub(lambda m: LABELS[m.group(1)[0].lower() + m.group(1)[1:]], message)
    first, _, rest = text.partition(" ")
    name = first[:1].lower() + first[1:]
    return f"{LABELS[name]} {rest}" if name in LABELS and rest else text


def read_money(text: str | None, field: str) -> Decimal | None:
    """A typed amount in major units ("12.50"), or None when empty. ValidationFailed
    (INVALID_AMOUNT, `field`), in words for a person, for anything the domain's
    `parse_decimal` refuses (letters, a sign, an exponent, two points)."""
    cleaned = (text or "").strip().replace(",", "")
    if not cleaned:
        return None
    try:
        return parse_decimal(cleaned, field=field)
    except ValidationFailed as err:
        raise ValidationFailed("Enter an amount like 12.50", code=err.code, field=field) from None


def field_words(err: DomainError) -> str:
    """A refusal as the form shows it next to its field: the domain's field names as the
    form labels them, and a bare "amount" (domain/money.py to_minor) named by its field:
    "amount is too large" on the reserve → "Reserve price is too large."."""
    if err.field in LABELS and err.message.startswith("amount "):
        named = f"{LABELS[err.field]} {err.message.removeprefix('amount ')}"
        err = ValidationFailed(named, code=err.code, field=err.field)
    return humanize(explain(err))


def read_seconds(text: str | None, field: str) -> int | None:
    """A typed whole number of seconds, or None when empty."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    if _SECONDS.fullmatch(cleaned) is None:
        raise ValidationFailed(f"{field} must be a whole number of seconds", field=field)
    return int(cleaned)


def read_time(text: str | None, zone: ZoneInfo, field: str) -> datetime | None:
    """A `datetime-local` value ("2026-12-01T18:30") read in `zone`, returned in UTC; None
    when empty. A wall time that a DST change skips or repeats is read as the earlier
    instant (`fold=0`). ValidationFailed(`field`) for text that is not such a value or
    a year outside MIN_YEAR..MAX_YEAR."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    try:
        local = datetime.fromisoformat(cleaned.replace(" ", "T"))
    except ValueError:
        raise ValidationFailed(
            f"{field} must be a date and time like 2026-12-01T18:30", field=field
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    # Near year 1 or 9999 an offset carries the instant off the calendar (OverflowError);
    # no auction is that far away, so anything outside the sane years is refused too.
    try:
        instant = local.astimezone(UTC)
    except (OverflowError, ValueError):
        instant = None
    if instant is None or not MIN_YEAR <= instant.year <= MAX_YEAR:
        raise ValidationFailed(
            f"{field} must be between the years {MIN_YEAR} and {MAX_YEAR}", field=field
        )
    return instant


def local_text(instant: datetime | None, zone: ZoneInfo) -> str:
    """`instant` as a `datetime-local` value in `zone` ("" for None)."""
    if instant is None:
        return ""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).strftime(LOCAL_FORMAT)


def major_text(minor: int | None, currency: str) -> str:
    """Minor units as the amount a person types ("12.50"); "" for None."""
    return "" if minor is None else str(to_decimal(minor, currency))


@dataclass
class FormProblems(Exception):
    """Every field the page could not read, at once (the domain reports one at a time)."""

    problems: list[ValidationFailed]


# The checks run on a form before its use case, each on one group of fields with every
# other field a stand-in known to pass, so that one refusal does not hide the next: the
# domain's validate_listing stops at its first problem, a person wants to see them all.
_GROUPS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "description": ("description",),
    "category": ("category",),
    "price": ("startingPrice",),
    "schedule": ("startsAt", "endsAt", "hardCloseAt"),
    "softClose": ("softCloseWindowSeconds", "softCloseExtensionSeconds"),
}
_INPUT_NAMES = {
    "title": "title",
    "description": "description",
    "category": "category",
    "startingPrice": "starting_price",
    "reservePrice": "reserve_price",
    "buyNowPrice": "buy_now_price",
    "dutchFloor": "dutch_floor",
    "dutchStep": "dutch_step",
    "dutchStepSeconds": "dutch_step_seconds",
    "softCloseWindowSeconds": "soft_close_window_seconds",
    "softCloseExtensionSeconds": "soft_close_extension_seconds",
    "hardCloseAt": "hard_close_at",
    "startsAt": "starts_at",
    "endsAt": "ends_at",
}
# Required by the domain's input: a group holding one of these is checked only when it
# was typed (the form reports the empty field itself).
_REQUIRED = frozenset({"startingPrice", "endsAt", "category"})


def _stand_in(currency: str, now: datetime, policy: ListingPolicy) -> ListingInput:
    """A listing every rule accepts, in `currency`: its fields replace those not checked."""
    return ListingInput(
        title="Item",
        description="Item",
        category=CATEGORIES[0],
        condition=ItemCondition.USED,
        type=AuctionType.ENGLISH,
        currency=currency,
        starting_price=Decimal(1),
        ends_at=now + policy.min_duration + (policy.max_duration - policy.min_duration) / 2,
    )


def check_fields(
    values: Mapping[str, Any],
    *,
    kind: AuctionType,
    currency: str,
    now: datetime,
    policy: ListingPolicy,
    skip: frozenset[str] = frozenset(),
) -> list[ValidationFailed]:
    """Every problem the domain finds in the typed `values` (domain field name → the value
    read: text, Decimal, int, datetime or None), one per field at most: each group of
    fields is checked by validate_listing (domain/listing.py) on its own, then the
    type's terms (reserve, buy-now, Dutch clock) together once the starting price
    passes. Fields in `skip` (those that could not be read) are not checked again."""
    base = _stand_in(currency, now, policy)
    english = kind is AuctionType.ENGLISH
    problems: dict[str, ValidationFailed] = {}

    def check(names: tuple[str, ...], **extra: Any) -> None:
        if any(n in skip or n in problems for n in names):
            return
        if any(n in _REQUIRED and values.get(n) is None for n in names):
            return
        typed: dict[str, Any] = {_INPUT_NAMES[n]: values.get(n) for n in names}
        try:
            validate_listing(replace(base, **typed, **extra), now=now, policy=policy)
        except ValidationFailed as err:
            problems.setdefault(err.field or names[0], err)

    for group, names in _GROUPS.items():
        if group == "softClose" and not english:
            continue
        if group == "schedule" and not english:
            names = ("startsAt", "endsAt")
        check(names)
    terms = ("startingPrice", *BY_TYPE[kind])
    check(tuple(n for n in terms if n not in _GROUPS["softClose"] + ("hardCloseAt",)), type=kind)
    return list(problems.values())
