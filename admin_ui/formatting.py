"""How the admin app shows money and time: money with its currency, from integer minor
units (domain/money.py); instants in the viewer's timezone (the `gavel_tz` cookie the
frame's script sets from the browser's `Intl` zone; UTC until the browser sent it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.money import CURRENCY_EXPONENTS, to_decimal

TZ_COOKIE = "gavel_tz"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(minor: int | None, currency: str) -> str:
    """`money(123456, "USD")` is "$1,234.56"; `money(5000, "JPY")` is "¥5,000"; a currency
    without a symbol is written after the amount ("1,234.56 CHF"); None is "—"."""
    if minor is None:
        return "—"
    if currency not in CURRENCY_EXPONENTS:
        return f"{minor} {currency} (minor units)"
    exponent = CURRENCY_EXPONENTS[currency]
    amount = f"{to_decimal(minor, currency):,.{exponent}f}"
    sign = "-" if amount.startswith("-") else ""
    amount = amount.lstrip("-")
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """A count with its noun agreeing: `plural(1, "bid")` is "1 bid", `plural(3, "bid")` is
    "3 bids", `plural(2, "dispute")` is "2 disputes"; nouns ending in s/x/ch/sh take "es",
    consonant+y "ies"; `many` gives an irregular plural (`plural(2, "person", "people")`)."""
    if count == 1:
        return f"{count:,} {noun}"
    if many is None:
        if noun.endswith(("s", "x", "ch", "sh")):
            many = noun + "es"
        elif noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
            many = noun[:-1] + "ies"
        else:
            many = noun + "s"
    return f"{count:,} {many}"


def zone_named(name: str | None) -> ZoneInfo:
    """The IANA zone `name` (as a browser reports it), or UTC when unknown or missing."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
            pass
    return ZoneInfo("UTC")


def when(instant: datetime | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """An instant in `zone`: "2026-11-30 14:05 CET" ("—" for None). Naive datetimes are UTC."""
    if instant is None:
        return "—"
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    local = instant.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def duration(span: timedelta) -> str:
    """A countdown: "2d 03:04:05", "03:04:05", "04:05"; negative spans are "00:00"."""
    total = max(0, int(span.total_seconds()))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    clock = (
        f"{hours:02d}:{minutes:02d}:{secs:02d}" if hours or days else f"{minutes:02d}:{secs:02d}"
    )
    return f"{days}d {clock}" if days else clock
