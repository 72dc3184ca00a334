"""Who wins an ended auction and what they pay (SPEC §4), from the slot's final state."""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import AuctionOutcome, AuctionType


@dataclass(frozen=True, slots=True)
class SealedBid:
    bidder: str
    amount: int
    sequence: int  # of the bidder's live (latest) bid: ties go to the earlier one


@dataclass(frozen=True, slots=True)
class FinalState:
    type: AuctionType
    starting_price: int
    reserve_price: int | None
    price: int | None  # English/Dutch: the current price when it ended
    leader: str | None  # English/Dutch: the leader when it ended
    sealed_bids: tuple[SealedBid, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    result: AuctionOutcome
    winner: str | None = None
    price: int | None = None


UNSOLD = Outcome(AuctionOutcome.UNSOLD)


def decide(final: FinalState) -> Outcome:
    if final.type in (AuctionType.ENGLISH, AuctionType.DUTCH):
        if final.leader is None or final.price is None:
            return UNSOLD
        if final.reserve_price is not None and final.price < final.reserve_price:
            return UNSOLD
        return Outcome(AuctionOutcome.SOLD, final.leader, final.price)
    if not final.sealed_bids:
        return UNSOLD
    ranked = sorted(final.sealed_bids, key=lambda b: (-b.amount, b.sequence))
    best = ranked[0]
    reserve = final.reserve_price
    if reserve is not None and best.amount < reserve:
        return UNSOLD
    if final.type is AuctionType.SEALED_FIRST_PRICE:
        return Outcome(AuctionOutcome.SOLD, best.bidder, best.amount)
    second = ranked[1].amount if len(ranked) > 1 else 0
    pays = max(second, reserve or 0, final.starting_price)
    return Outcome(AuctionOutcome.SOLD, best.bidder, pays)
