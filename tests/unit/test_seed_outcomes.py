"""The demo data's ended auctions agree with the rule book: each one's bids, replayed
through the reference model (`tests/model/reference.py`), give its recorded outcome."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from domain.enums import AuctionOutcome, AuctionStatus, AuctionType
from domain.events import BidAccepted, Ended, EndTerms, parse_stored
from domain.outcome import FinalState, decide
from seeds.builder import build
from storage.tables import Auction, Bid
from tests.model.reference import Dutch, English, Outcome, Sealed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def replay(a: Auction, bids: list[Bid]) -> Outcome:
    seller = str(a.seller_id)
    kind = AuctionType(a.type)
    if kind is AuctionType.DUTCH:
        assert a.dutch_step and a.dutch_step_seconds and a.starts_at
        dutch = Dutch(
            seller=seller,
            start=a.starting_price,
            step=a.dutch_step,
            step_ms=a.dutch_step_seconds * 1000,
            floor=a.dutch_floor or 0,
            active_ms=_ms(a.starts_at),
        )
        for b in bids:
            assert dutch.bid(str(b.bidder_id), b.amount, _ms(b.placed_at)).accepted
        if not dutch.ended:
            dutch.end_by_time()
        return dutch.outcome()
    model: English | Sealed
    if kind is AuctionType.ENGLISH:
        model = English(seller=seller, start=a.starting_price, reserve=a.reserve_price)
    else:
        model = Sealed(
            seller=seller,
            start=a.starting_price,
            reserve=a.reserve_price,
            second_price=kind is AuctionType.SEALED_SECOND_PRICE,
        )
    for b in bids:
        assert model.bid(str(b.bidder_id), b.amount).accepted
    model.end_by_time()
    return model.outcome()


def test_every_ended_demo_auction_has_the_outcome_its_bids_give():
    rows = build(NOW, defaultdict(str))
    bids: defaultdict[object, list[Bid]] = defaultdict(list)
    for b in sorted(rows.bids, key=lambda b: b.sequence):
        bids[b.auction_id].append(b)
    ended = [a for a in rows.auctions if a.status == AuctionStatus.ENDED.value]
    assert {AuctionType(a.type) for a in ended} == set(AuctionType)
    sold_by_type: defaultdict[str, int] = defaultdict(int)
    for a in ended:
        expected = replay(a, bids[a.id])
        assert a.outcome == (AuctionOutcome.SOLD if expected.sold else AuctionOutcome.UNSOLD)
        assert (str(a.winner_id) if a.winner_id else None) == expected.winner, a.id
        assert a.final_price == expected.price, a.id
        sold_by_type[a.type] += expected.sold
    # Every type has sold auctions to check, Vickrey prices included.
    assert all(sold_by_type[kind.value] > 0 for kind in AuctionType), sold_by_type


def test_demo_events_read_like_the_engines_and_decide_the_recorded_outcome():
    rows = build(NOW, defaultdict(str))
    auctions = {a.id: a for a in rows.auctions}
    ends = 0
    for row in rows.auction_events:
        event = parse_stored(row.payload, row.sequence, row.kind)
        assert (event.sequence, event.kind.value) == (row.sequence, row.kind)
        a = auctions[row.auction_id]
        if isinstance(event, BidAccepted):
            assert event.bidder is not None and event.status == AuctionStatus.ACTIVE.value
            continue
        assert isinstance(event, Ended) and event.sequence == a.last_sequence
        ends += 1
        # As the persister decides an end: from the event, with the terms it carries.
        terms = event.terms or EndTerms(a.starting_price, a.reserve_price)
        outcome = decide(
            FinalState(
                type=AuctionType(a.type),
                starting_price=terms.starting_price,
                reserve_price=terms.reserve_price,
                price=event.price,
                leader=event.leader,
                sealed_bids=event.sealed_bids or (),
            )
        )
        assert outcome.result.value == a.outcome
        assert outcome.winner == (str(a.winner_id) if a.winner_id else None)
        assert outcome.price == a.final_price
    assert ends == sum(a.status == AuctionStatus.ENDED.value for a in rows.auctions)
