"""Account rules (usernames, emails, passwords, profiles, roles) and auction lifecycle rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import (
    Address,
    check_address,
    check_display_name,
    check_password,
    check_username,
    normalize_email,
    with_role,
)
from domain.enums import AuctionStatus, Role
from domain.errors import Forbidden, InvalidState, ValidationFailed
from domain.lifecycle import check_cancellable, check_editable, status_on_publish

# --- usernames -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", "abc"),
        ("Alice_99", "Alice_99"),
        ("a.b-c_d", "a.b-c_d"),
        ("  bob  ", "bob"),
        ("x" * 32, "x" * 32),
        ("...", "..."),
    ],
)
def test_valid_usernames(raw: str, expected: str) -> None:
    assert check_username(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "ab", "  ab  ", "x" * 33, "al ice", "alice!", "alice@home", "ålice", "ab\ncd", "a/b"],
)
def test_invalid_usernames(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_username(raw)
    assert (err.value.code, err.value.field) == ("INVALID_USERNAME", "username")


# --- emails --------------------------------------------------------------------------------

LOCAL_64 = "a" * 64
DOMAIN_FOR_254 = "b" * (254 - 64 - 1 - 4) + ".com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM ", "alice@example.com"),
        ("a.b+tag@mail.example.co", "a.b+tag@mail.example.co"),
        (f"{LOCAL_64}@example.com", f"{LOCAL_64}@example.com"),
        (f"{LOCAL_64}@{DOMAIN_FOR_254}", f"{LOCAL_64}@{DOMAIN_FOR_254}"),
    ],
)
def test_valid_emails(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("alice", id="no-at"),
        pytest.param("alice@example", id="no-dot"),
        pytest.param("alice@example.c", id="one-letter-tld"),
        pytest.param("@example.com", id="empty-local"),
        pytest.param("al ice@example.com", id="space"),
        pytest.param("a@b@example.com", id="two-ats"),
        pytest.param("a" * 65 + "@example.com", id="local-65"),
        pytest.param(f"{LOCAL_64}@b{DOMAIN_FOR_254}", id="total-255"),
    ],
)
def test_invalid_emails(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        normalize_email(raw)
    assert (err.value.code, err.value.field) == ("INVALID_EMAIL", "email")


# --- passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["x" * 10, "x" * 256, "  spaced password  ", "pässwörd✓✓"])
def test_valid_passwords_are_returned_unchanged(raw: str) -> None:
    assert check_password(raw) == raw


@pytest.mark.parametrize("raw", ["", "x" * 9, "x" * 257])
def test_invalid_passwords(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_password(raw)
    assert (err.value.code, err.value.field) == ("WEAK_PASSWORD", "password")


# --- display names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), ("   ", None), (" Bob ", "Bob"), ("x" * 80, "x" * 80)],
)
def test_display_names(raw: str | None, expected: str | None) -> None:
    assert check_display_name(raw) == expected


def test_display_name_too_long() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_display_name("x" * 81)
    assert (err.value.code, err.value.field) == ("TOO_LONG", "displayName")


# --- addresses -----------------------------------------------------------------------------


def address(**overrides: object) -> Address:
    fields: dict[str, object] = {
        "line1": " 1 Main St ",
        "line2": None,
        "city": " Springfield ",
        "postal_code": " 12345 ",
        "country": " us ",
    }
    fields.update(overrides)
    return Address(**fields)  # type: ignore[arg-type]


def test_address_is_normalised() -> None:
    assert check_address(address(line2="  Apt 4  ")) == Address(
        line1="1 Main St", line2="Apt 4", city="Springfield", postal_code="12345", country="US"
    )


@pytest.mark.parametrize("line2", [None, "", "   "])
def test_blank_line2_becomes_none(line2: str | None) -> None:
    assert check_address(address(line2=line2)).line2 is None


def test_address_length_limits_are_inclusive() -> None:
    checked = check_address(
        address(line1="x" * 200, line2="y" * 200, city="z" * 100, postal_code="9" * 20)
    )
    assert (len(checked.line1), len(checked.line2 or ""), len(checked.city)) == (200, 200, 100)
    assert len(checked.postal_code) == 20


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        pytest.param({"line1": "  "}, "INVALID_INPUT", "address.line1", id="blank-line1"),
        pytest.param({"city": ""}, "INVALID_INPUT", "address.city", id="empty-city"),
        pytest.param(
            {"postal_code": " "}, "INVALID_INPUT", "address.postalCode", id="blank-postal"
        ),
        pytest.param({"line1": "x" * 201}, "TOO_LONG", "address.line1", id="long-line1"),
        pytest.param({"line2": "x" * 201}, "TOO_LONG", "address.line2", id="long-line2"),
        pytest.param({"city": "x" * 101}, "TOO_LONG", "address.city", id="long-city"),
        pytest.param({"postal_code": "9" * 21}, "TOO_LONG", "address.postalCode", id="long-postal"),
        pytest.param({"country": "USA"}, "INVALID_INPUT", "address.country", id="alpha3"),
        pytest.param({"country": "U"}, "INVALID_INPUT", "address.country", id="one-letter"),
        pytest.param({"country": "U1"}, "INVALID_INPUT", "address.country", id="digit"),
        pytest.param({"country": ""}, "INVALID_INPUT", "address.country", id="empty-country"),
    ],
)
def test_invalid_addresses(overrides: dict[str, object], code: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_address(address(**overrides))
    assert (err.value.code, err.value.field) == (code, field)


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "role", "expected"),
    [
        ([], Role.BIDDER, ["BIDDER"]),
        (["BIDDER"], Role.SELLER, ["BIDDER", "SELLER"]),
        (["ADMIN"], Role.BIDDER, ["BIDDER", "ADMIN"]),
        (["ADMIN", "SELLER"], Role.BIDDER, ["BIDDER", "SELLER", "ADMIN"]),
        (["SELLER", "BIDDER"], Role.SELLER, ["BIDDER", "SELLER"]),
        (["BIDDER", "BIDDER"], Role.BIDDER, ["BIDDER"]),
    ],
)
def test_with_role_canonical_order(roles: list[str], role: Role, expected: list[str]) -> None:
    before = list(roles)
    assert with_role(roles, role) == expected
    assert roles == before


@given(roles=st.lists(st.sampled_from([r.value for r in Role])), role=st.sampled_from(list(Role)))
def test_with_role_properties(roles: list[str], role: Role) -> None:
    result = with_role(roles, role)
    canonical = [r.value for r in Role]
    assert result == [r for r in canonical if r in result]
    assert len(result) == len(set(result))
    assert role.value in result
    assert set(result) == {*roles, role.value}
    assert with_role(result, role) == result


# --- lifecycle -----------------------------------------------------------------------------

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [AuctionStatus.DRAFT, AuctionStatus.SCHEDULED])
def test_drafts_and_scheduled_without_bids_are_editable(status: AuctionStatus) -> None:
    check_editable(status, 0)


@pytest.mark.parametrize(
    ("status", "bids"),
    [
        (AuctionStatus.ACTIVE, 0),
        (AuctionStatus.ENDED, 0),
        (AuctionStatus.CANCELLED, 0),
        (AuctionStatus.DRAFT, 1),
        (AuctionStatus.SCHEDULED, 3),
        (AuctionStatus.ACTIVE, 5),
    ],
)
def test_not_editable(status: AuctionStatus, bids: int) -> None:
    with pytest.raises(InvalidState) as err:
        check_editable(status, bids)
    assert err.value.code == "INVALID_STATE"


@pytest.mark.parametrize(
    ("starts_at", "expected"),
    [
        (None, AuctionStatus.ACTIVE),
        (NOW - timedelta(days=1), AuctionStatus.ACTIVE),
        (NOW, AuctionStatus.ACTIVE),
        (NOW + timedelta(microseconds=1), AuctionStatus.SCHEDULED),
        (NOW + timedelta(days=2), AuctionStatus.SCHEDULED),
    ],
)
def test_status_on_publish(starts_at: datetime | None, expected: AuctionStatus) -> None:
    assert status_on_publish(AuctionStatus.DRAFT, starts_at, NOW) is expected


@pytest.mark.parametrize(
    "status",
    [AuctionStatus.SCHEDULED, AuctionStatus.ACTIVE, AuctionStatus.ENDED, AuctionStatus.CANCELLED],
)
@pytest.mark.parametrize("starts_at", [None, NOW + timedelta(days=1)])
def test_only_drafts_can_be_published(status: AuctionStatus, starts_at: datetime | None) -> None:
    with pytest.raises(InvalidState) as err:
        status_on_publish(status, starts_at, NOW)
    assert err.value.code == "INVALID_STATE"


@pytest.mark.parametrize(
    "status", [AuctionStatus.DRAFT, AuctionStatus.SCHEDULED, AuctionStatus.ACTIVE]
)
def test_seller_can_cancel_before_first_bid(status: AuctionStatus) -> None:
    check_cancellable(status, 0, by_admin=False)


@pytest.mark.parametrize("bids", [1, 7])
def test_seller_cannot_cancel_after_bids(bids: int) -> None:
    with pytest.raises(Forbidden) as err:
        check_cancellable(AuctionStatus.ACTIVE, bids, by_admin=False)
    assert err.value.code == "FORBIDDEN"


@pytest.mark.parametrize(
    "status", [AuctionStatus.DRAFT, AuctionStatus.SCHEDULED, AuctionStatus.ACTIVE]
)
@pytest.mark.parametrize("bids", [0, 1, 7])
def test_admin_can_cancel_any_open_auction(status: AuctionStatus, bids: int) -> None:
    check_cancellable(status, bids, by_admin=True)


@pytest.mark.parametrize("status", [AuctionStatus.ENDED, AuctionStatus.CANCELLED])
@pytest.mark.parametrize("by_admin", [False, True])
@pytest.mark.parametrize("bids", [0, 2])
def test_finished_auctions_cannot_be_cancelled(
    status: AuctionStatus, by_admin: bool, bids: int
) -> None:
    with pytest.raises(InvalidState) as err:
        check_cancellable(status, bids, by_admin=by_admin)
    assert err.value.code == "INVALID_STATE"
