"""Price arithmetic of SPEC §4: the English increment table and the Dutch price clock."""

from __future__ import annotations

from functools import lru_cache

from domain.money import CURRENCY_EXPONENTS

# (lower bound, increment) in major-unit hundredths, i.e. minor units of a 2-decimal
# currency; scaled for other exponents so 1.00 JPY-equivalents keep the same shape.
_INCREMENTS: tuple[tuple[int, int], ...] = (
    (500_000, 10_000),
    (250_000, 5_000),
    (100_000, 2_500),
    (50_000, 1_000),
    (25_000, 500),
    (10_000, 250),
    (2_500, 100),
    (500, 50),
    (100, 25),
    (0, 5),
)


@lru_cache(maxsize=64)
def increment_table(currency: str) -> tuple[tuple[int, int], ...]:
    """(lower bound, increment) rows in the currency's minor units, highest bound first."""
    shift = CURRENCY_EXPONENTS[currency] - 2
    scale = 10 ** abs(shift)
    rows = []
    for lower, step in _INCREMENTS:
        bound = lower * scale if shift >= 0 else lower // scale
        scaled: int = step * scale if shift >= 0 else step // scale
        rows.append((bound, max(1, scaled)))
    return tuple(rows)


def increment(price: int, currency: str) -> int:
    """eBay's bid increment for a current price, in the currency's minor units."""
    for bound, step in increment_table(currency):
        if price >= bound:
            return step
    raise AssertionError("unreachable: the table starts at zero")


def english_minimum_next_bid(starting_price: int, current_price: int | None, currency: str) -> int:
    if current_price is None:
        return starting_price
    return current_price + increment(current_price, currency)


def dutch_price(start: int, step: int, step_seconds: int, floor: int, elapsed: float) -> int:
    """max(floor, start - floor(elapsed / step_seconds) * step)."""
    steps = int(max(0.0, elapsed) // step_seconds)
    return max(floor, start - steps * step)
