"""Money is integer minor units plus an ISO 4217 currency; Decimal only at the edges."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from domain.errors import ValidationFailed

# ISO 4217 currencies accepted for listings, with their minor-unit exponent.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "SGD": 2,
    "HKD": 2,
    "INR": 2,
    "MXN": 2,
    "BRL": 2,
    "ZAR": 2,
    "CNY": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "BHD": 3,
    "KWD": 3,
}

# Largest amount anyone may name: 10^13 minor units (100 billion USD). Fits BIGINT and
# Lua's 2^53 integer-exact doubles with room for increments.
MAX_MINOR_UNITS = 10**13


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def to_decimal(self) -> Decimal:
        return to_decimal(self.minor, self.currency)


def check_currency(currency: str, *, field: str = "currency") -> str:
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if code not in CURRENCY_EXPONENTS:
        raise ValidationFailed(
            f"unknown currency {currency!r}", code="UNKNOWN_CURRENCY", field=field
        )
    return code


def to_minor(amount: Decimal | str | int, currency: str, *, field: str = "amount") -> int:
    """Convert a client amount to minor units, refusing anything not exactly representable.

    Rejects NaN, infinities, negatives, more decimals than the currency has, and amounts
    above MAX_MINOR_UNITS. Zero is allowed here; callers decide whether it makes sense.
    """
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise ValidationFailed(
            f"unknown currency {currency!r}", code="UNKNOWN_CURRENCY", field=field
        )
    if isinstance(amount, float):
        raise ValidationFailed(
            "amounts must be decimal strings, not floats", code="INVALID_AMOUNT", field=field
        )
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            f"{amount!r} is not a decimal amount", code="INVALID_AMOUNT", field=field
        ) from None
    if not value.is_finite():
        raise ValidationFailed("amount must be a finite number", code="INVALID_AMOUNT", field=field)
    if value < 0:
        raise ValidationFailed("amount must not be negative", code="INVALID_AMOUNT", field=field)
    if value > Decimal(MAX_MINOR_UNITS).scaleb(-exponent):
        raise ValidationFailed("amount is too large", code="INVALID_AMOUNT", field=field)
    # Decide on the digits as written: arithmetic at the context's 28-digit precision
    # would round "1.0000000000000000000000000001" to 1.00 instead of refusing it.
    _, digits, exp = value.as_tuple()
    assert isinstance(exp, int)  # finite, checked above
    places, end = -exp, len(digits)
    while places > 0 and end > 0 and digits[end - 1] == 0:  # "1.50" is as exact as "1.5"
        places, end = places - 1, end - 1
    if places > exponent:
        raise ValidationFailed(
            f"{currency} amounts have at most {exponent} decimal places",
            code="INVALID_AMOUNT",
            field=field,
        )
    with localcontext() as ctx:
        ctx.prec = len(digits) + exponent + 2
        return int(value.scaleb(exponent))


def to_decimal(minor: int, currency: str) -> Decimal:
    exponent = CURRENCY_EXPONENTS[currency]
    return Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
