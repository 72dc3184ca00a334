"""domain/public_state.py: what an auction shows, checked against the reference model
(`tests/model/reference.py`, written from docs/auction-rules.md alone) where it has the
rule, and by example for what it leaves open (sealed hiding, the record/live overlay)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.enums import AuctionOutcome, AuctionStatus, AuctionType
from domain.public_state import (
    Standing,
    Terms,
    bid_amount_visible,
    bid_amounts_hidden,
    dutch_clock_start,
    public_state,
)
from tests.model.reference import Dutch, English, Sealed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENDS = NOW + timedelta(days=1)
SELLER = "seller"
BIDDERS = [str(uuid.UUID(int=i)) for i in range(1, 5)]


def standing(status: AuctionStatus = AuctionStatus.ACTIVE, **fields: object) -> Standing:
    base: dict[str, object] = {
        "status": status,
        "price": None,
        "leader": None,
        "bid_count": 0,
        "sequence": 0,
        "ends_at": ENDS,
    }
    return Standing(**(base | fields))  # type: ignore[arg-type]


def english_terms(start: int, reserve: int | None) -> Terms:
    return Terms(AuctionType.ENGLISH, "USD", start, reserve)


bids = st.lists(
    st.tuples(st.sampled_from(BIDDERS), st.integers(1, 400_00), st.integers(0, 300_00)),
    max_size=15,
)


@given(start=st.integers(1, 200_00), reserve=st.none() | st.integers(1, 600_00), steps=bids)
def test_english_price_minimum_and_reserve_follow_the_rules(start, reserve, steps):
    reserve = None if reserve is None else max(reserve, start)
    model = English(seller=SELLER, start=start, reserve=reserve)
    terms = english_terms(start, reserve)
    for bidder, amount, extra in steps:
        step = model.bid(bidder, amount, amount + extra)
        if not step.accepted:
            continue
        live = standing(
            price=model.price,
            leader=uuid.UUID(model.leader) if model.leader else None,
            bid_count=model.bids,
            sequence=model.seq,
        )
        shown = public_state(terms, standing(), live, NOW)
        assert shown.current_price == model.public_price()
        assert shown.minimum_next_bid == model.minimum_next_bid()
        assert str(shown.leader) == model.public_leader()
        assert shown.reserve_met == (reserve is None or model.price >= reserve)
        assert shown.bid_count == model.bids and not shown.bid_amounts_hidden

    # The slot ended it: the outcome is decided from the live state (domain/outcome.py).
    model.end_by_time()
    expected = model.outcome()
    ended = standing(
        AuctionStatus.ENDED,
        price=model.price,
        leader=uuid.UUID(model.leader) if model.leader else None,
        bid_count=model.bids,
    )
    shown = public_state(terms, standing(), ended, NOW)
    assert shown.outcome is (AuctionOutcome.SOLD if expected.sold else AuctionOutcome.UNSOLD)
    assert shown.winner == (uuid.UUID(expected.winner) if expected.winner else None)
    assert shown.final_price == expected.price and shown.minimum_next_bid is None
    assert shown.current_price == (expected.price if expected.sold else model.price)


@given(
    start=st.integers(100, 100_000_00),
    step=st.integers(1, 10_000),
    step_seconds=st.integers(1, 7200),
    floor_share=st.floats(0, 1),
    elapsed_ms=st.integers(-10_000, 400_000_000),
)
def test_the_dutch_clock_is_the_reference_models(
    start, step, step_seconds, floor_share, elapsed_ms
):
    floor = int(start * floor_share)
    activated = NOW - timedelta(days=30)
    model = Dutch(
        seller=SELLER,
        start=start,
        step=step,
        step_ms=step_seconds * 1000,
        floor=floor,
        active_ms=int(activated.timestamp() * 1000),
    )
    now = activated + timedelta(milliseconds=elapsed_ms)
    terms = Terms(AuctionType.DUTCH, "USD", start, None, step, step_seconds, floor, activated)
    shown = public_state(terms, standing(), None, now)
    price = model.price_at(int(now.timestamp() * 1000))
    assert shown.current_price == price and shown.minimum_next_bid == price
    assert shown.reserve_met


def test_a_dutch_auction_not_yet_live_shows_its_starting_price():
    terms = Terms(AuctionType.DUTCH, "USD", 1000, None, 10, 60, 500, NOW - timedelta(hours=5))
    for status in (AuctionStatus.DRAFT, AuctionStatus.SCHEDULED):
        shown = public_state(terms, standing(status), None, NOW)
        assert shown.current_price == 1000
    assert (
        public_state(terms, standing(AuctionStatus.SCHEDULED), None, NOW).minimum_next_bid == 1000
    )
    assert public_state(terms, standing(AuctionStatus.DRAFT), None, NOW).minimum_next_bid is None


def test_the_dutch_clock_counts_from_when_the_auction_became_active():
    created = NOW - timedelta(days=3)
    published, starts, activated = (NOW - timedelta(hours=h) for h in (3, 2, 1))
    assert dutch_clock_start(activated, starts, published, created) == activated
    assert dutch_clock_start(None, starts, published, created) == starts
    assert dutch_clock_start(None, None, published, created) == published
    assert dutch_clock_start(None, None, None, created) == created


@given(
    kind=st.sampled_from([AuctionType.SEALED_FIRST_PRICE, AuctionType.SEALED_SECOND_PRICE]),
    amounts=st.lists(st.tuples(st.sampled_from(BIDDERS), st.integers(1, 1000_00)), max_size=8),
)
def test_a_sealed_auction_hides_price_leader_and_amounts_until_it_ends(kind, amounts):
    model = Sealed(seller=SELLER, start=50_00, second_price=kind is AuctionType.SEALED_SECOND_PRICE)
    terms = Terms(kind, "USD", 50_00, 80_00)
    for bidder, amount in amounts:
        if not model.bid(bidder, amount).accepted:
            continue
        # Whatever the slot holds, nothing of it shows while the auction runs.
        live = standing(price=amount, leader=uuid.UUID(bidder), bid_count=model.bids)
        shown = public_state(terms, standing(), live, NOW)
        assert shown.current_price is None and shown.current_price == model.public_price()
        assert shown.leader is None and shown.bid_amounts_hidden
        assert shown.minimum_next_bid == 50_00 and shown.reserve_met is False
        assert shown.bid_count == model.bids
    model.end_by_time()
    expected = model.outcome()
    # The record has the outcome once the persister decided it (with the hidden bids).
    recorded = standing(
        AuctionStatus.ENDED,
        outcome=AuctionOutcome.SOLD if expected.sold else AuctionOutcome.UNSOLD,
        winner=uuid.UUID(expected.winner) if expected.winner else None,
        final_price=expected.price,
        bid_count=model.bids,
    )
    shown = public_state(terms, recorded, None, NOW)
    assert shown.current_price == expected.price and shown.final_price == expected.price
    assert shown.reserve_met is expected.sold and not shown.bid_amounts_hidden
    assert shown.leader is None and shown.minimum_next_bid is None


def test_a_sealed_auction_that_ended_in_the_slot_waits_for_its_record():
    terms = Terms(AuctionType.SEALED_SECOND_PRICE, "USD", 50_00, None)
    live = standing(AuctionStatus.ENDED, price=90_00, leader=uuid.UUID(BIDDERS[0]), bid_count=2)
    shown = public_state(terms, standing(), live, NOW)
    assert shown.status is AuctionStatus.ENDED and shown.outcome is None
    assert shown.current_price is None and shown.winner is None and shown.leader is None


def test_the_live_slot_wins_over_the_record():
    terms = english_terms(10_00, None)
    stored = standing(price=10_00, bid_count=1, sequence=1)
    live = replace(
        standing(price=12_50, leader=uuid.UUID(BIDDERS[1]), bid_count=2, sequence=3),
        ends_at=ENDS + timedelta(minutes=2),
    )
    shown = public_state(terms, stored, live, NOW)
    assert (shown.current_price, shown.bid_count, shown.sequence) == (12_50, 2, 3)
    assert shown.ends_at == ENDS + timedelta(minutes=2)
    assert shown.minimum_next_bid == 13_00


def test_a_cancelled_auction_shows_no_leader_and_takes_no_bids():
    shown = public_state(
        english_terms(10_00, None),
        standing(AuctionStatus.CANCELLED, price=20_00, leader=uuid.UUID(BIDDERS[0])),
        None,
        NOW,
    )
    assert shown.leader is None and shown.minimum_next_bid is None
    assert shown.current_price == 20_00


def test_bid_amounts_are_hidden_only_on_sealed_auctions_before_the_end():
    for kind in AuctionType:
        for status in AuctionStatus:
            hidden = bid_amounts_hidden(kind, status)
            assert hidden == (kind.sealed and status is not AuctionStatus.ENDED)
            assert bid_amount_visible(kind, status, own=True)
            assert bid_amount_visible(kind, status, own=False) is not hidden
