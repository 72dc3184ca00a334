"""Money conversion at the edges: exact Decimal <-> integer minor units, or a typed error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.money import (
    CURRENCY_EXPONENTS,
    MAX_MINOR_UNITS,
    Money,
    check_currency,
    to_decimal,
    to_minor,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minor_units = st.integers(min_value=0, max_value=MAX_MINOR_UNITS)


@given(minor=minor_units, currency=currencies)
def test_round_trip_through_decimal(minor: int, currency: str) -> None:
    amount = to_decimal(minor, currency)
    assert amount.as_tuple().exponent == -CURRENCY_EXPONENTS[currency]
    assert to_minor(amount, currency) == minor


@given(minor=minor_units, currency=currencies)
def test_round_trip_through_decimal_string(minor: int, currency: str) -> None:
    text = str(to_decimal(minor, currency))
    assert "E" not in text
    assert to_minor(text, currency) == minor


@given(minor=minor_units, currency=currencies)
def test_money_to_decimal_matches_function(minor: int, currency: str) -> None:
    assert Money(minor, currency).to_decimal() == to_decimal(minor, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (0, "USD", "0.00"),
        (1, "USD", "0.01"),
        (123456, "EUR", "1234.56"),
        (1500, "JPY", "1500"),
        (1, "BHD", "0.001"),
        (12345, "KWD", "12.345"),
        (MAX_MINOR_UNITS, "USD", "100000000000.00"),
    ],
)
def test_to_decimal_renders_currency_exponent(minor: int, currency: str, expected: str) -> None:
    assert str(to_decimal(minor, currency)) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0", "USD", 0),
        ("0.00", "USD", 0),
        (0, "USD", 0),
        (Decimal("0"), "JPY", 0),
        ("-0", "USD", 0),
        ("12.34", "USD", 1234),
        (Decimal("12.30"), "EUR", 1230),
        (7, "USD", 700),
        ("1500", "JPY", 1500),
        ("1.234", "BHD", 1234),
        ("100000000000.00", "USD", MAX_MINOR_UNITS),
        (str(MAX_MINOR_UNITS), "JPY", MAX_MINOR_UNITS),
    ],
)
def test_to_minor_accepts_exact_amounts(amount: Any, currency: str, expected: int) -> None:
    assert to_minor(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        pytest.param("NaN", "USD", "INVALID_AMOUNT", id="nan-string"),
        pytest.param(Decimal("NaN"), "USD", "INVALID_AMOUNT", id="nan-decimal"),
        pytest.param("sNaN", "USD", "INVALID_AMOUNT", id="snan"),
        pytest.param("Infinity", "USD", "INVALID_AMOUNT", id="infinity"),
        pytest.param("-Infinity", "USD", "INVALID_AMOUNT", id="minus-infinity"),
        pytest.param(Decimal("Infinity"), "EUR", "INVALID_AMOUNT", id="infinity-decimal"),
        pytest.param("-0.01", "USD", "INVALID_AMOUNT", id="negative"),
        pytest.param(-1, "USD", "INVALID_AMOUNT", id="negative-int"),
        pytest.param("1.001", "USD", "INVALID_AMOUNT", id="usd-three-decimals"),
        pytest.param("0.001", "EUR", "INVALID_AMOUNT", id="eur-sub-cent"),
        pytest.param("1.5", "JPY", "INVALID_AMOUNT", id="jpy-decimals"),
        pytest.param("1.0001", "BHD", "INVALID_AMOUNT", id="bhd-four-decimals"),
        pytest.param("100000000000.01", "USD", "INVALID_AMOUNT", id="usd-above-max"),
        pytest.param(str(MAX_MINOR_UNITS + 1), "JPY", "INVALID_AMOUNT", id="jpy-above-max"),
        pytest.param("1E+999999", "USD", "INVALID_AMOUNT", id="huge-exponent"),
        pytest.param("1E-999999", "USD", "INVALID_AMOUNT", id="tiny-exponent"),
        pytest.param(1.5, "USD", "INVALID_AMOUNT", id="float"),
        pytest.param(1.0, "USD", "INVALID_AMOUNT", id="integral-float"),
        pytest.param("twelve", "USD", "INVALID_AMOUNT", id="garbage"),
        pytest.param("", "USD", "INVALID_AMOUNT", id="empty"),
        pytest.param("1,00", "USD", "INVALID_AMOUNT", id="comma"),
        pytest.param("  12.3 ", "USD", "INVALID_AMOUNT", id="padded"),
        pytest.param("1e2", "USD", "INVALID_AMOUNT", id="exponent"),
        pytest.param("1500.00", "JPY", "INVALID_AMOUNT", id="jpy-written-decimals"),
        pytest.param("1.500", "USD", "INVALID_AMOUNT", id="usd-three-written-decimals"),
        pytest.param("$5", "USD", "INVALID_AMOUNT", id="symbol"),
        pytest.param("1.00", "XYZ", "UNKNOWN_CURRENCY", id="unknown-currency"),
        pytest.param("1.00", "usd", "UNKNOWN_CURRENCY", id="lowercase-currency"),
        pytest.param("1.00", "", "UNKNOWN_CURRENCY", id="empty-currency"),
        pytest.param(1.5, "XYZ", "UNKNOWN_CURRENCY", id="currency-checked-first"),
    ],
)
def test_to_minor_rejections(amount: Any, currency: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        to_minor(amount, currency, field="bid")
    assert err.value.code == code
    assert err.value.field == "bid"


def test_to_minor_default_field_is_amount() -> None:
    with pytest.raises(ValidationFailed) as err:
        to_minor("-1", "USD")
    assert err.value.field == "amount"


@pytest.mark.parametrize(
    "amount",
    [
        "1.0000000000000000000000000001",
        "99999999999.99000000000000000001",
        "0.1000000000000000000000000000001",
    ],
)
def test_to_minor_rejects_long_over_precise_amounts(amount: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        to_minor(amount, "USD")
    assert err.value.code == "INVALID_AMOUNT"


@given(
    minor=st.integers(min_value=0, max_value=MAX_MINOR_UNITS - 1),
    currency=st.sampled_from(sorted(c for c, e in CURRENCY_EXPONENTS.items() if e > 0)),
    digit=st.integers(min_value=1, max_value=9),
)
def test_one_digit_beyond_exponent_is_rejected(minor: int, currency: str, digit: int) -> None:
    text = f"{to_decimal(minor, currency)}{digit}"
    with pytest.raises(ValidationFailed) as err:
        to_minor(text, currency)
    assert err.value.code == "INVALID_AMOUNT"


@pytest.mark.parametrize(
    ("raw", "expected"), [("USD", "USD"), ("usd", "USD"), (" jpy ", "JPY"), ("Kwd", "KWD")]
)
def test_check_currency_normalises(raw: str, expected: str) -> None:
    assert check_currency(raw) == expected


@pytest.mark.parametrize("raw", ["XYZ", "", "US", "USDD", "EURO"])
def test_check_currency_rejects_unknown(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_currency(raw, field="cur")
    assert err.value.code == "UNKNOWN_CURRENCY"
    assert err.value.field == "cur"


def test_check_currency_rejects_non_string() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_currency(None)  # type: ignore[arg-type]
    assert err.value.code == "UNKNOWN_CURRENCY"
    assert err.value.field == "currency"
