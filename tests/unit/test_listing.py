"""Listing rules: validate_listing for every auction type, its exact errors, and apply_changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain.enums import AuctionType, ItemCondition
from domain.errors import ValidationFailed
from domain.listing import (
    AuctionTerms,
    ListingChanges,
    ListingInput,
    ListingPolicy,
    apply_changes,
    validate_listing,
)

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
POLICY = ListingPolicy(min_duration=timedelta(seconds=10), max_duration=timedelta(days=30))
D = Decimal


def english(**overrides: Any) -> ListingInput:
    base = ListingInput(
        title="  Vintage Leica M3  ",
        description="Working condition, with case.",
        category=" Cameras/Film ",
        condition=ItemCondition.USED,
        type=AuctionType.ENGLISH,
        currency="usd",
        starting_price=D("10.00"),
        ends_at=NOW + timedelta(days=7),
    )
    return replace(base, **overrides)


def dutch(**overrides: Any) -> ListingInput:
    base = english(
        type=AuctionType.DUTCH,
        starting_price=D("100.00"),
        dutch_step=D("5.00"),
        dutch_step_seconds=60,
        dutch_floor=D("50.00"),
    )
    return replace(base, **overrides)


def sealed_first(**overrides: Any) -> ListingInput:
    return replace(english(type=AuctionType.SEALED_FIRST_PRICE), **overrides)


def sealed_second(**overrides: Any) -> ListingInput:
    return replace(english(type=AuctionType.SEALED_SECOND_PRICE), **overrides)


def validate(raw: ListingInput) -> AuctionTerms:
    return validate_listing(raw, now=NOW, policy=POLICY)


# --- happy paths ---------------------------------------------------------------------------


def test_english_happy_path_normalises_and_converts() -> None:
    terms = validate(
        english(
            reserve_price=D("20.00"),
            buy_now_price=D("50.00"),
            starts_at=NOW + timedelta(hours=1),
            hard_close_at=NOW + timedelta(days=8),
        )
    )
    assert terms.title == "Vintage Leica M3"
    assert terms.description == "Working condition, with case."
    assert terms.category == "cameras/film"
    assert terms.currency == "USD"
    assert terms.type is AuctionType.ENGLISH
    assert terms.condition is ItemCondition.USED
    assert terms.starting_price == 1000
    assert terms.reserve_price == 2000
    assert terms.buy_now_price == 5000
    assert terms.starts_at == NOW + timedelta(hours=1)
    assert terms.ends_at == NOW + timedelta(days=7)
    assert terms.hard_close_at == NOW + timedelta(days=8)
    assert terms.soft_close_window_seconds == 120
    assert terms.soft_close_extension_seconds == 120
    assert terms.dutch_step is None
    assert terms.dutch_step_seconds is None
    assert terms.dutch_floor is None


def test_english_accepts_string_enum_values_and_custom_soft_close() -> None:
    terms = validate(
        english(
            type="ENGLISH",
            condition="NEW",
            soft_close_window_seconds=0,
            soft_close_extension_seconds=86_400,
        )
    )
    assert terms.type is AuctionType.ENGLISH
    assert terms.condition is ItemCondition.NEW
    assert terms.soft_close_window_seconds == 0
    assert terms.soft_close_extension_seconds == 86_400


def test_english_soft_close_may_be_disabled() -> None:
    terms = validate(english(soft_close_window_seconds=None, soft_close_extension_seconds=None))
    assert terms.soft_close_window_seconds is None
    assert terms.soft_close_extension_seconds is None


def test_dutch_happy_path() -> None:
    terms = validate(dutch())
    assert terms.type is AuctionType.DUTCH
    assert terms.starting_price == 10_000
    assert terms.dutch_step == 500
    assert terms.dutch_step_seconds == 60
    assert terms.dutch_floor == 5_000
    # Soft close is English only: the contract's defaults are dropped for Dutch.
    assert terms.soft_close_window_seconds is None
    assert terms.soft_close_extension_seconds is None
    assert terms.reserve_price is None
    assert terms.buy_now_price is None


@pytest.mark.parametrize("build", [sealed_first, sealed_second])
def test_sealed_happy_path(build: Any) -> None:
    terms = validate(build(reserve_price=D("15.00")))
    assert terms.type.sealed
    assert terms.starting_price == 1000
    assert terms.reserve_price == 1500
    assert terms.buy_now_price is None
    assert terms.soft_close_window_seconds is None
    assert terms.soft_close_extension_seconds is None
    assert terms.hard_close_at is None


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(english(title="abc"), id="title-3-chars"),
        pytest.param(english(title="x" * 140), id="title-140-chars"),
        pytest.param(english(description="x" * 10_000), id="description-10000"),
        pytest.param(english(reserve_price=D("10.00")), id="reserve-equals-start"),
        pytest.param(
            english(reserve_price=D("20.00"), buy_now_price=D("20.01")), id="buy-now-a-cent-over"
        ),
        pytest.param(english(buy_now_price=D("10.01")), id="buy-now-a-cent-over-start"),
        pytest.param(dutch(dutch_floor=D("0")), id="dutch-floor-zero"),
        pytest.param(dutch(dutch_step=D("50.00")), id="dutch-step-equals-span"),
        pytest.param(dutch(dutch_step_seconds=1), id="dutch-step-seconds-1"),
        pytest.param(dutch(dutch_step_seconds=86_400), id="dutch-step-seconds-max"),
        pytest.param(english(ends_at=NOW + timedelta(seconds=10)), id="duration-exactly-min"),
        pytest.param(english(ends_at=NOW + timedelta(days=30)), id="duration-exactly-max"),
        pytest.param(
            english(starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(seconds=10)),
            id="past-start-measured-from-now",
        ),
        pytest.param(
            english(starts_at=NOW + timedelta(days=5), ends_at=NOW + timedelta(days=5, seconds=10)),
            id="future-start-min-duration",
        ),
        pytest.param(
            english(starts_at=NOW + timedelta(days=5), ends_at=NOW + timedelta(days=35)),
            id="future-start-max-duration",
        ),
        pytest.param(english(hard_close_at=NOW + timedelta(days=7)), id="hard-close-equals-ends"),
        pytest.param(
            english(ends_at=datetime(2030, 6, 8, 14, 0, tzinfo=timezone(timedelta(hours=2)))),
            id="non-utc-offset",
        ),
        pytest.param(english(currency="JPY", starting_price=D("1500")), id="jpy"),
        pytest.param(english(currency="BHD", starting_price=D("1.234")), id="bhd"),
    ],
)
def test_boundary_inputs_are_accepted(raw: ListingInput) -> None:
    validate(raw)


# --- bad inputs ----------------------------------------------------------------------------

LATER = NOW + timedelta(hours=1)

BAD_INPUTS = [
    # text
    pytest.param(english(title=""), "INVALID_INPUT", "title", id="empty-title"),
    pytest.param(english(title="    "), "INVALID_INPUT", "title", id="blank-title"),
    pytest.param(english(title=" ab "), "INVALID_INPUT", "title", id="short-title"),
    pytest.param(english(title="x" * 141), "TOO_LONG", "title", id="title-141"),
    pytest.param(english(title="x" * 1_000_000), "TOO_LONG", "title", id="title-1mb"),
    pytest.param(english(description=""), "INVALID_INPUT", "description", id="empty-description"),
    pytest.param(
        english(description="x" * 10_001), "TOO_LONG", "description", id="description-10001"
    ),
    # category / currency
    pytest.param(
        english(category="cameras/unicorns"), "UNKNOWN_CATEGORY", "category", id="unknown-category"
    ),
    pytest.param(english(category=""), "UNKNOWN_CATEGORY", "category", id="empty-category"),
    pytest.param(english(currency="XYZ"), "UNKNOWN_CURRENCY", "currency", id="unknown-currency"),
    # starting price
    pytest.param(
        english(starting_price=D("-1.00")), "INVALID_AMOUNT", "startingPrice", id="negative-start"
    ),
    pytest.param(
        english(starting_price=D("0")), "INVALID_AMOUNT", "startingPrice", id="zero-start"
    ),
    pytest.param(
        english(starting_price=D("10.001")),
        "INVALID_AMOUNT",
        "startingPrice",
        id="over-precise-start",
    ),
    pytest.param(
        english(currency="JPY", starting_price=D("10.5")),
        "INVALID_AMOUNT",
        "startingPrice",
        id="jpy-start-with-decimals",
    ),
    pytest.param(
        english(starting_price=D("NaN")), "INVALID_AMOUNT", "startingPrice", id="nan-start"
    ),
    # reserve / buy-now
    pytest.param(
        english(reserve_price=D("9.99")), "INVALID_AMOUNT", "reservePrice", id="reserve-below-start"
    ),
    pytest.param(
        english(reserve_price=D("20.001")),
        "INVALID_AMOUNT",
        "reservePrice",
        id="over-precise-reserve",
    ),
    pytest.param(
        sealed_second(reserve_price=D("5.00")),
        "INVALID_AMOUNT",
        "reservePrice",
        id="sealed-reserve-below-start",
    ),
    pytest.param(
        dutch(reserve_price=D("150.00")), "INVALID_INPUT", "reservePrice", id="reserve-on-dutch"
    ),
    pytest.param(
        sealed_first(buy_now_price=D("50.00")),
        "INVALID_INPUT",
        "buyNowPrice",
        id="buy-now-on-sealed-first",
    ),
    pytest.param(
        sealed_second(buy_now_price=D("50.00")),
        "INVALID_INPUT",
        "buyNowPrice",
        id="buy-now-on-sealed-second",
    ),
    pytest.param(
        dutch(buy_now_price=D("150.00")), "INVALID_INPUT", "buyNowPrice", id="buy-now-on-dutch"
    ),
    pytest.param(
        english(reserve_price=D("20.00"), buy_now_price=D("20.00")),
        "INVALID_AMOUNT",
        "buyNowPrice",
        id="buy-now-equals-reserve",
    ),
    pytest.param(
        english(reserve_price=D("20.00"), buy_now_price=D("15.00")),
        "INVALID_AMOUNT",
        "buyNowPrice",
        id="buy-now-between-start-and-reserve",
    ),
    pytest.param(
        english(buy_now_price=D("10.00")),
        "INVALID_AMOUNT",
        "buyNowPrice",
        id="buy-now-equals-start",
    ),
    pytest.param(
        english(buy_now_price=D("-1")), "INVALID_AMOUNT", "buyNowPrice", id="negative-buy-now"
    ),
    # dutch parameters
    pytest.param(
        english(dutch_step=D("1.00")), "INVALID_INPUT", "dutchStep", id="dutch-step-on-english"
    ),
    pytest.param(
        english(dutch_floor=D("1.00")), "INVALID_INPUT", "dutchStep", id="dutch-floor-on-english"
    ),
    pytest.param(
        sealed_first(dutch_step_seconds=60),
        "INVALID_INPUT",
        "dutchStep",
        id="dutch-seconds-on-sealed",
    ),
    pytest.param(dutch(dutch_floor=None), "INVALID_INPUT", "dutchFloor", id="missing-dutch-floor"),
    pytest.param(dutch(dutch_step=None), "INVALID_AMOUNT", "dutchStep", id="missing-dutch-step"),
    pytest.param(dutch(dutch_step=D("0")), "INVALID_AMOUNT", "dutchStep", id="zero-dutch-step"),
    pytest.param(
        dutch(dutch_step_seconds=None),
        "INVALID_INPUT",
        "dutchStepSeconds",
        id="missing-dutch-seconds",
    ),
    pytest.param(
        dutch(dutch_step_seconds=0), "INVALID_INPUT", "dutchStepSeconds", id="zero-dutch-seconds"
    ),
    pytest.param(
        dutch(dutch_step_seconds=86_401),
        "INVALID_INPUT",
        "dutchStepSeconds",
        id="dutch-seconds-over-a-day",
    ),
    pytest.param(
        dutch(dutch_floor=D("100.00")), "INVALID_AMOUNT", "dutchFloor", id="floor-equals-start"
    ),
    pytest.param(
        dutch(dutch_floor=D("120.00")), "INVALID_AMOUNT", "dutchFloor", id="floor-above-start"
    ),
    pytest.param(
        dutch(dutch_floor=D("-1.00")), "INVALID_AMOUNT", "dutchFloor", id="negative-floor"
    ),
    pytest.param(dutch(dutch_step=D("50.01")), "INVALID_AMOUNT", "dutchStep", id="step-too-large"),
    # schedule
    pytest.param(
        english(starts_at=LATER, ends_at=LATER - timedelta(minutes=30)),
        "INVALID_SCHEDULE",
        "endsAt",
        id="end-before-start",
    ),
    pytest.param(
        english(starts_at=LATER, ends_at=LATER),
        "INVALID_SCHEDULE",
        "endsAt",
        id="end-equals-start",
    ),
    pytest.param(
        english(ends_at=NOW - timedelta(seconds=1)),
        "INVALID_SCHEDULE",
        "endsAt",
        id="end-in-the-past",
    ),
    pytest.param(
        english(ends_at=NOW + timedelta(seconds=9)),
        "INVALID_SCHEDULE",
        "endsAt",
        id="below-min-duration",
    ),
    pytest.param(
        english(starts_at=LATER, ends_at=LATER + timedelta(seconds=9, microseconds=999_999)),
        "INVALID_SCHEDULE",
        "endsAt",
        id="below-min-duration-from-future-start",
    ),
    pytest.param(
        english(starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(seconds=9)),
        "INVALID_SCHEDULE",
        "endsAt",
        id="below-min-duration-past-start",
    ),
    pytest.param(
        english(ends_at=NOW + timedelta(days=30, seconds=1)),
        "INVALID_SCHEDULE",
        "endsAt",
        id="above-max-duration",
    ),
    pytest.param(
        english(starts_at=LATER, ends_at=LATER + timedelta(days=30, seconds=1)),
        "INVALID_SCHEDULE",
        "endsAt",
        id="above-max-duration-from-future-start",
    ),
    pytest.param(
        english(ends_at=datetime(2030, 6, 8, 12, 0)),
        "INVALID_INPUT",
        "endsAt",
        id="naive-ends-at",
    ),
    pytest.param(
        english(starts_at=datetime(2030, 6, 1, 13, 0)),
        "INVALID_INPUT",
        "startsAt",
        id="naive-starts-at",
    ),
    pytest.param(
        english(hard_close_at=datetime(2030, 6, 9, 12, 0)),
        "INVALID_INPUT",
        "hardCloseAt",
        id="naive-hard-close-at",
    ),
    pytest.param(
        english(hard_close_at=NOW + timedelta(days=7) - timedelta(seconds=1)),
        "INVALID_SCHEDULE",
        "hardCloseAt",
        id="hard-close-before-ends",
    ),
    pytest.param(
        dutch(hard_close_at=NOW + timedelta(days=8)),
        "INVALID_INPUT",
        "hardCloseAt",
        id="hard-close-on-dutch",
    ),
    pytest.param(
        sealed_first(hard_close_at=NOW + timedelta(days=8)),
        "INVALID_INPUT",
        "hardCloseAt",
        id="hard-close-on-sealed",
    ),
    # soft close
    pytest.param(
        english(soft_close_window_seconds=-1),
        "INVALID_INPUT",
        "softCloseWindowSeconds",
        id="negative-soft-close-window",
    ),
    pytest.param(
        english(soft_close_extension_seconds=86_401),
        "INVALID_INPUT",
        "softCloseExtensionSeconds",
        id="soft-close-extension-over-a-day",
    ),
]


@pytest.mark.parametrize(("raw", "code", "field"), BAD_INPUTS)
def test_bad_inputs_fail_with_exact_code_and_field(
    raw: ListingInput, code: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate(raw)
    assert (err.value.code, err.value.field) == (code, field)
    assert err.value.message


def test_soft_close_fields_are_ignored_for_non_english_types() -> None:
    # Out-of-range soft-close values are not an error for types that have no soft close.
    terms = validate(dutch(soft_close_window_seconds=-1, soft_close_extension_seconds=10**9))
    assert terms.soft_close_window_seconds is None
    assert terms.soft_close_extension_seconds is None


def test_unknown_auction_type_and_condition_are_rejected() -> None:
    with pytest.raises(ValueError):
        validate(english(type="REVERSE"))
    with pytest.raises(ValueError):
        validate(english(condition="BROKEN"))


def test_min_duration_comes_from_the_policy() -> None:
    strict = ListingPolicy(min_duration=timedelta(hours=1), max_duration=timedelta(days=30))
    raw = english(ends_at=NOW + timedelta(minutes=59))
    with pytest.raises(ValidationFailed) as err:
        validate_listing(raw, now=NOW, policy=strict)
    assert (err.value.code, err.value.field) == ("INVALID_SCHEDULE", "endsAt")
    assert validate(raw).ends_at == raw.ends_at


# --- apply_changes -------------------------------------------------------------------------


def change(terms: AuctionTerms, **fields: Any) -> AuctionTerms:
    return apply_changes(terms, ListingChanges(**fields), now=NOW, policy=POLICY)


@pytest.fixture
def stored() -> AuctionTerms:
    return validate(
        english(
            reserve_price=D("20.00"),
            buy_now_price=D("50.00"),
            starts_at=LATER,
            ends_at=LATER + timedelta(days=3),
            hard_close_at=LATER + timedelta(days=4),
        )
    )


def test_empty_changes_keep_everything(stored: AuctionTerms) -> None:
    assert change(stored) == stored


def test_changing_title_keeps_untouched_fields(stored: AuctionTerms) -> None:
    updated = change(stored, title="  Leica M3 with 50mm Summicron ")
    assert updated.title == "Leica M3 with 50mm Summicron"
    assert replace(updated, title=stored.title) == stored
    assert stored.title == "Vintage Leica M3"


def test_changes_are_normalised_and_converted(stored: AuctionTerms) -> None:
    updated = change(
        stored,
        description=" New description ",
        category="CAMERAS/LENSES",
        condition=ItemCondition.LIKE_NEW,
        starting_price=D("12.50"),
        reserve_price=D("30"),
        buy_now_price=D("99.99"),
        ends_at=LATER + timedelta(days=2),
    )
    assert updated.description == "New description"
    assert updated.category == "cameras/lenses"
    assert updated.condition is ItemCondition.LIKE_NEW
    assert updated.starting_price == 1250
    assert updated.reserve_price == 3000
    assert updated.buy_now_price == 9999
    assert updated.ends_at == LATER + timedelta(days=2)
    assert updated.starts_at == stored.starts_at
    assert updated.currency == stored.currency
    assert updated.type is stored.type
    assert updated.hard_close_at == stored.hard_close_at


BAD_CHANGES = [
    pytest.param(
        {"ends_at": LATER - timedelta(minutes=1)},
        "INVALID_SCHEDULE",
        "endsAt",
        id="ends-before-stored-start",
    ),
    pytest.param(
        {"starts_at": LATER + timedelta(days=3)},
        "INVALID_SCHEDULE",
        "endsAt",
        id="start-moved-to-stored-end",
    ),
    pytest.param(
        {"ends_at": LATER + timedelta(days=5)},
        "INVALID_SCHEDULE",
        "hardCloseAt",
        id="ends-after-stored-hard-close",
    ),
    pytest.param(
        {"ends_at": datetime(2030, 6, 5, 12, 0)}, "INVALID_INPUT", "endsAt", id="naive-ends-at"
    ),
    pytest.param({"title": "ab"}, "INVALID_INPUT", "title", id="short-title"),
    pytest.param({"title": "x" * 141}, "TOO_LONG", "title", id="long-title"),
    pytest.param({"description": "  "}, "INVALID_INPUT", "description", id="blank-description"),
    pytest.param({"category": "nope"}, "UNKNOWN_CATEGORY", "category", id="unknown-category"),
    pytest.param({"starting_price": D("0")}, "INVALID_AMOUNT", "startingPrice", id="zero-start"),
    pytest.param(
        {"starting_price": D("1.001")}, "INVALID_AMOUNT", "startingPrice", id="over-precise-start"
    ),
    pytest.param(
        {"starting_price": D("25.00")},
        "INVALID_AMOUNT",
        "reservePrice",
        id="start-above-stored-reserve",
    ),
    pytest.param(
        {"reserve_price": D("50.00")},
        "INVALID_AMOUNT",
        "buyNowPrice",
        id="reserve-reaches-stored-buy-now",
    ),
    pytest.param(
        {"buy_now_price": D("-5")}, "INVALID_AMOUNT", "buyNowPrice", id="negative-buy-now"
    ),
]


@pytest.mark.parametrize(("fields", "code", "field"), BAD_CHANGES)
def test_changes_are_revalidated(
    stored: AuctionTerms, fields: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        change(stored, **fields)
    assert (err.value.code, err.value.field) == (code, field)


def test_changes_to_dutch_listing_recheck_dutch_rules() -> None:
    terms = validate(dutch())
    with pytest.raises(ValidationFailed) as err:
        change(terms, starting_price=D("50.00"))
    assert (err.value.code, err.value.field) == ("INVALID_AMOUNT", "dutchFloor")
    with pytest.raises(ValidationFailed) as err:
        change(terms, starting_price=D("54.99"))
    assert (err.value.code, err.value.field) == ("INVALID_AMOUNT", "dutchStep")
    assert change(terms, starting_price=D("55.00")).starting_price == 5_500


def test_buy_now_cannot_be_added_to_a_sealed_listing() -> None:
    terms = validate(sealed_first())
    with pytest.raises(ValidationFailed) as err:
        change(terms, buy_now_price=D("99.00"))
    assert (err.value.code, err.value.field) == ("INVALID_INPUT", "buyNowPrice")


def test_changes_use_the_stored_currency() -> None:
    terms = validate(english(currency="JPY", starting_price=D("1500")))
    assert change(terms, starting_price=D("2000")).starting_price == 2000
    with pytest.raises(ValidationFailed) as err:
        change(terms, starting_price=D("2000.5"))
    assert (err.value.code, err.value.field) == ("INVALID_AMOUNT", "startingPrice")
