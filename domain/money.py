"""Money is integer minor units plus an ISO 4217 currency; Decimal only at the edges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext

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


# The only amount syntax on the wire (SPEC: "takes Decimal strings. No floats."): an optional
# '-', ASCII digits, optionally '.' and more ASCII digits. Python's Decimal() would also take
# "1_000", full-width and Arabic-Indic digits, "1e1", " 10", "NaN"; none is a typed price.
# [0-9] and fullmatch, because \d matches every Unicode digit and $ matches before a "\n".
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Longer than any real amount (10^13 minor units is 14 digits) yet short enough that a
# hostile string costs nothing to refuse and every accepted one fits PostgreSQL NUMERIC.
MAX_DECIMAL_LENGTH = 32


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


def parse_decimal(text: object, *, field: str = "amount") -> Decimal:
    """The Decimal a client's amount string names, parsed strictly.

    Accepts only `-?[0-9]+(\\.[0-9]+)?` (ASCII, no spaces, no '+', no exponent, no '_',
    at most MAX_DECIMAL_LENGTH characters), so "-3" parses and is left to the caller to
    refuse as non-positive. Anything else, non-strings included (JSON numbers arrive as
    floats and have already lost digits), raises ValidationFailed(INVALID_AMOUNT, field).
    Source: SPEC "takes Decimal strings. No floats"; issue 12 item 4.
    """
    if (
        not isinstance(text, str)
        or len(text) > MAX_DECIMAL_LENGTH
        or _PLAIN_DECIMAL.fullmatch(text) is None
    ):
        # The value is not echoed: it may hold characters no JSON encoder accepts.
        raise ValidationFailed(
            f'{field} must be a plain decimal string like "12.50" (ASCII digits, at most'
            f" one '.', no sign but '-', no exponent, at most {MAX_DECIMAL_LENGTH} characters)",
            code="INVALID_AMOUNT",
            field=field,
        )
    return Decimal(text)


def to_minor(amount: Decimal | str | int, currency: str, *, field: str = "amount") -> int:
    """Convert a client amount to minor units, refusing anything not exactly representable.

    Strings go through parse_decimal. Rejects NaN, infinities, negatives, more decimal
    places written than the currency has ("1500.00" JPY, "1.500" USD), and amounts above
    MAX_MINOR_UNITS, with INVALID_AMOUNT. Zero is allowed here; callers decide whether it
    makes sense.
    """
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise ValidationFailed(
            f"unknown currency {currency!r}", code="UNKNOWN_CURRENCY", field=field
        )
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int) and not isinstance(amount, bool):
        value = Decimal(amount)
    else:
        value = parse_decimal(amount, field=field)
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
    if -exp > exponent:
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
