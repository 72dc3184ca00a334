"""How the admin app writes money and time (admin_ui/formatting.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from admin_ui.formatting import duration, money, plural, when, zone_named


def test_money_is_minor_units_with_the_currency() -> None:
    assert money(123456, "USD") == "$1,234.56"
    assert money(-5, "EUR") == "-€0.05"
    assert money(5000, "JPY") == "¥5,000"
    assert money(100, "CHF") == "1.00 CHF"
    assert money(None, "USD") == "—"
    assert money(7, "XXX") == "7 XXX (minor units)"


def test_instants_are_shown_in_the_viewers_zone() -> None:
    instant = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    assert when(instant, zone_named("Europe/Berlin")) == "2026-07-01 14:30 CEST"
    assert when(instant.replace(tzinfo=None), zone_named("UTC")) == "2026-07-01 12:30 UTC"
    assert when(None, zone_named("UTC")) == "—"


def test_unknown_or_hostile_zones_fall_back_to_utc() -> None:
    for name in (None, "", "Mars/Olympus", "../../etc/passwd", "x" * 300):
        assert str(zone_named(name)) == "UTC"


def test_countdowns() -> None:
    assert duration(timedelta(seconds=65)) == "01:05"
    assert duration(timedelta(hours=3, seconds=4)) == "03:00:04"
    assert duration(timedelta(days=2, hours=1)) == "2d 01:00:00"
    assert duration(timedelta(seconds=-3)) == "00:00"


def test_counts_agree_with_their_nouns() -> None:
    assert plural(1, "bid") == "1 bid"
    assert plural(0, "bid") == "0 bids"
    assert plural(2, "auction") == "2 auctions"
    assert plural(3, "match") == "3 matches"
    assert plural(2, "difference") == "2 differences"
    assert plural(4, "dispute") == "4 disputes"
    assert plural(2, "category") == "2 categories"
    assert plural(2, "day") == "2 days"
    assert plural(1_234, "sale") == "1,234 sales"
    assert plural(2, "person", "people") == "2 people"
