"""SPEC §4 price arithmetic: eBay's English increment table and the Dutch price clock."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.money import CURRENCY_EXPONENTS, MAX_MINOR_UNITS, to_minor
from domain.pricing import dutch_price, english_minimum_next_bid, increment

# SPEC §4, verbatim: (lowest price of the row, increment), in major units.
SPEC_TABLE: tuple[tuple[str, str], ...] = (
    ("0.00", "0.05"),
    ("1.00", "0.25"),
    ("5.00", "0.50"),
    ("25.00", "1.00"),
    ("100.00", "2.50"),
    ("250.00", "5.00"),
    ("500.00", "10.00"),
    ("1000.00", "25.00"),
    ("2500.00", "50.00"),
    ("5000.00", "100.00"),
)


def spec_increment(price: Decimal) -> Decimal:
    """The SPEC table, independently of the implementation."""
    result = Decimal("0.05")
    for lower, step in SPEC_TABLE:
        if price >= Decimal(lower):
            result = Decimal(step)
    return result


def usd(amount: str) -> int:
    return to_minor(amount, "USD")


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("0.00", "0.05"),
        ("0.01", "0.05"),
        ("0.99", "0.05"),
        ("1.00", "0.25"),
        ("4.99", "0.25"),
        ("5.00", "0.50"),
        ("24.99", "0.50"),
        ("25.00", "1.00"),
        ("99.99", "1.00"),
        ("100.00", "2.50"),
        ("249.99", "2.50"),
        ("250.00", "5.00"),
        ("499.99", "5.00"),
        ("500.00", "10.00"),
        ("999.99", "10.00"),
        ("1000.00", "25.00"),
        ("2499.99", "25.00"),
        ("2500.00", "50.00"),
        ("4999.99", "50.00"),
        ("5000.00", "100.00"),
        ("5000.01", "100.00"),
        ("1000000.00", "100.00"),
        ("100000000000.00", "100.00"),
    ],
)
def test_usd_increment_table_boundaries(price: str, expected: str) -> None:
    assert increment(usd(price), "USD") == usd(expected)


@given(st.integers(min_value=0, max_value=MAX_MINOR_UNITS))
def test_usd_increment_matches_spec_table(price: int) -> None:
    assert increment(price, "USD") == usd(str(spec_increment(Decimal(price).scaleb(-2))))


@given(
    price=st.integers(min_value=0, max_value=MAX_MINOR_UNITS),
    currency=st.sampled_from(sorted(c for c, e in CURRENCY_EXPONENTS.items() if e == 2)),
)
def test_every_two_decimal_currency_uses_the_same_table(price: int, currency: str) -> None:
    assert increment(price, currency) == increment(price, "USD")


@given(st.integers(min_value=0, max_value=MAX_MINOR_UNITS // 10))
def test_three_decimal_currency_is_the_table_scaled_by_ten(price_usd_minor: int) -> None:
    assert increment(price_usd_minor * 10, "BHD") == increment(price_usd_minor, "USD") * 10
    assert increment(price_usd_minor * 10, "KWD") == increment(price_usd_minor, "USD") * 10


@given(
    a=st.integers(min_value=0, max_value=MAX_MINOR_UNITS),
    b=st.integers(min_value=0, max_value=MAX_MINOR_UNITS),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_increment_is_positive_and_non_decreasing(a: int, b: int, currency: str) -> None:
    low, high = sorted((a, b))
    assert 1 <= increment(low, currency) <= increment(high, currency)


@pytest.mark.parametrize("currency", ["JPY", "KRW", "ISK"])
def test_zero_decimal_currencies_have_whole_unit_increments(currency: str) -> None:
    assert increment(0, currency) == 1
    assert increment(250, currency) == 5
    assert increment(1000, currency) == 25
    assert increment(5000, currency) == 100


def test_minimum_next_bid_is_starting_price_before_first_bid() -> None:
    assert english_minimum_next_bid(usd("10.00"), None, "USD") == usd("10.00")
    assert english_minimum_next_bid(usd("0.99"), None, "USD") == usd("0.99")


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("0.00", "0.05"),
        ("0.99", "1.04"),
        ("1.00", "1.25"),
        ("10.00", "10.50"),
        ("99.99", "100.99"),
        ("100.00", "102.50"),
        ("4999.99", "5049.99"),
        ("5000.00", "5100.00"),
    ],
)
def test_minimum_next_bid_after_first_bid(current: str, expected: str) -> None:
    # The starting price no longer matters once there is a current price.
    assert english_minimum_next_bid(usd("0.50"), usd(current), "USD") == usd(expected)
    assert english_minimum_next_bid(usd("9000.00"), usd(current), "USD") == usd(expected)


@given(
    start=st.integers(min_value=1, max_value=MAX_MINOR_UNITS),
    current=st.integers(min_value=0, max_value=MAX_MINOR_UNITS),
)
def test_minimum_next_bid_is_current_plus_increment(start: int, current: int) -> None:
    assert english_minimum_next_bid(start, current, "USD") == current + increment(current, "USD")


@st.composite
def dutch_terms(draw: st.DrawFn) -> tuple[int, int, int, int]:
    start = draw(st.integers(min_value=1, max_value=MAX_MINOR_UNITS))
    floor = draw(st.integers(min_value=0, max_value=start - 1))
    step = draw(st.integers(min_value=1, max_value=start - floor))
    step_seconds = draw(st.integers(min_value=1, max_value=86_400))
    return start, step, step_seconds, floor


elapsed_seconds = st.one_of(
    st.integers(min_value=0, max_value=10**8),
    st.floats(min_value=0, max_value=1e8, allow_nan=False, allow_infinity=False),
)


def formula(start: int, step: int, step_seconds: int, floor: int, elapsed: float) -> int:
    """SPEC §4: max(floor, start - floor(elapsed / step_interval) * step), exactly."""
    steps = math.floor(Fraction(elapsed) / step_seconds)
    return max(floor, start - steps * step)


@given(terms=dutch_terms(), elapsed=elapsed_seconds)
def test_dutch_price_matches_formula(terms: tuple[int, int, int, int], elapsed: float) -> None:
    start, step, step_seconds, floor = terms
    price = dutch_price(start, step, step_seconds, floor, elapsed)
    assert price == formula(start, step, step_seconds, floor, elapsed)
    assert floor <= price <= start


@given(terms=dutch_terms(), a=elapsed_seconds, b=elapsed_seconds)
def test_dutch_price_never_rises(terms: tuple[int, int, int, int], a: float, b: float) -> None:
    start, step, step_seconds, floor = terms
    early, late = sorted((a, b))
    assert dutch_price(start, step, step_seconds, floor, early) >= dutch_price(
        start, step, step_seconds, floor, late
    )


@given(terms=dutch_terms())
def test_dutch_price_is_start_at_zero_and_before_a_full_step(
    terms: tuple[int, int, int, int],
) -> None:
    start, step, step_seconds, floor = terms
    assert dutch_price(start, step, step_seconds, floor, 0) == start
    assert dutch_price(start, step, step_seconds, floor, 0.0) == start
    just_before = math.nextafter(float(step_seconds), 0.0)
    assert dutch_price(start, step, step_seconds, floor, just_before) == start
    assert dutch_price(start, step, step_seconds, floor, step_seconds) == max(floor, start - step)


@given(
    terms=dutch_terms(),
    elapsed=st.one_of(
        st.integers(max_value=-1, min_value=-(10**9)),
        st.floats(max_value=-1e-9, min_value=-1e9, allow_nan=False),
    ),
)
def test_negative_elapsed_counts_as_zero(terms: tuple[int, int, int, int], elapsed: float) -> None:
    start, step, step_seconds, floor = terms
    assert dutch_price(start, step, step_seconds, floor, elapsed) == start


@given(terms=dutch_terms())
def test_dutch_price_reaches_the_floor_and_stays(terms: tuple[int, int, int, int]) -> None:
    start, step, step_seconds, floor = terms
    steps_to_floor = -(-(start - floor) // step)
    assume(steps_to_floor * step_seconds < 10**12)
    at = steps_to_floor * step_seconds
    assert dutch_price(start, step, step_seconds, floor, at) == floor
    assert dutch_price(start, step, step_seconds, floor, at * 10) == floor
    if steps_to_floor > 1:
        assert dutch_price(start, step, step_seconds, floor, at - step_seconds) > floor


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (0, 10_000),
        (59.999, 10_000),
        (60, 9_500),
        (60.5, 9_500),
        (119, 9_500),
        (120, 9_000),
        (359, 7_500),
        (360, 7_000),
        (361, 7_000),
        (1_000_000, 7_000),
        (-5, 10_000),
    ],
)
def test_dutch_price_examples(elapsed: float, expected: int) -> None:
    assert dutch_price(10_000, 500, 60, 7_000, elapsed) == expected


def test_dutch_price_clamps_a_partial_last_step_to_the_floor() -> None:
    # 100.00 -> 70.00 in 7.00 steps: 93, 86, 79, 72, then 65 is clamped to 70.
    assert dutch_price(10_000, 700, 10, 7_000, 40) == 7_200
    assert dutch_price(10_000, 700, 10, 7_000, 50) == 7_000
