"""eBay's retraction rules (domain/retraction.py) at and around their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.retraction import OwnBid, RetractionNotAllowed, retractable

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def bids(*ages: timedelta) -> list[OwnBid]:
    """The bidder's bids with sequences 2, 4, 6, … placed `age` before now."""
    return [OwnBid(2 * (i + 1), NOW - age) for i, age in enumerate(ages)]


def test_more_than_12_hours_before_the_end_all_bids():
    assert retractable(bids(5 * H, 2 * H, 3 * H), NOW + 13 * H, NOW) == [2, 4, 6]
    just_over = NOW + 12 * H + timedelta(seconds=1)
    assert retractable(bids(5 * H, 2 * H), just_over, NOW) == [2, 4]


def test_within_12_hours_only_the_latest_within_an_hour():
    assert retractable(bids(5 * H, 30 * timedelta(minutes=1)), NOW + 11 * H, NOW) == [4]
    assert retractable(bids(H), NOW + 12 * H, NOW) == [2]  # exactly 12 h: the strict rule


def test_within_12_hours_an_older_latest_bid_is_refused():
    with pytest.raises(RetractionNotAllowed) as refused:
        retractable(bids(5 * H, H + timedelta(seconds=1)), NOW + 11 * H, NOW)
    assert refused.value.code == "RETRACTION_NOT_ALLOWED" and refused.value.reason == "TOO_LATE"


def test_the_latest_is_by_sequence_not_by_the_list_order():
    own = [OwnBid(9, NOW - timedelta(minutes=10)), OwnBid(3, NOW - timedelta(minutes=5))]
    assert retractable(own, NOW + H, NOW) == [9]


def test_no_bids():
    with pytest.raises(RetractionNotAllowed) as refused:
        retractable([], NOW + 13 * H, NOW)
    assert refused.value.reason == "NO_BIDS"


def test_within_12_hours_the_latest_ever_placed_decides_even_when_retracted():
    """A retracted latest bid does not make the bid before it the latest: a second
    retraction within the last 12 h cannot walk back earlier bids."""
    own = [OwnBid(1, NOW - timedelta(minutes=9)), OwnBid(3, NOW - timedelta(minutes=5), True)]
    with pytest.raises(RetractionNotAllowed) as refused:
        retractable(own, NOW + 6 * H, NOW)
    assert refused.value.reason == "ALREADY_RETRACTED"


def test_more_than_12_hours_before_the_end_only_live_bids_are_retracted():
    own = [OwnBid(1, NOW - H), OwnBid(3, NOW - H, True), OwnBid(5, NOW - H)]
    assert retractable(own, NOW + 13 * H, NOW) == [1, 5]
    with pytest.raises(RetractionNotAllowed) as refused:
        retractable([OwnBid(3, NOW - H, True)], NOW + 13 * H, NOW)
    assert refused.value.reason == "NO_BIDS"
