"""A small reference model of SPEC §4 "Bidding rules", written from the SPEC text only.

Deliberately independent of `domain/` and `realtime/`: nothing here is imported from the
code under test, so the engine can be compared against it step by step. Amounts are
integer minor units of a two-decimal currency (e.g. USD cents).

Every transition returns a `Step`: accepted or rejected (with the reason code), and the
auction's public price / leader afterwards. Fields the SPEC leaves open are `None` in the
model, meaning "not checked" (see the notes at each place).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Reason codes of SPEC §4 ("Rejected bids return a reason code ...").
REASONS = frozenset(
    {
        "AUCTION_NOT_ACTIVE",
        "AUCTION_ENDED",
        "BID_TOO_LOW",
        "SELF_BIDDING",
        "NOT_VERIFIED",
        "RATE_LIMITED",
        "FRAUD_HOLD",
        "CURRENCY_MISMATCH",
        "INVALID_AMOUNT",
    }
)

# eBay's increment table re-typed from the SPEC, in cents: (lower bound, increment).
# under 1.00 -> 0.05; 1.00-4.99 -> 0.25; 5.00-24.99 -> 0.50; 25.00-99.99 -> 1.00;
# 100.00-249.99 -> 2.50; 250.00-499.99 -> 5.00; 500.00-999.99 -> 10.00;
# 1,000-2,499.99 -> 25.00; 2,500-4,999.99 -> 50.00; >= 5,000 -> 100.00.
INCREMENTS: tuple[tuple[int, int], ...] = (
    (0, 5),
    (1_00, 25),
    (5_00, 50),
    (25_00, 1_00),
    (100_00, 2_50),
    (250_00, 5_00),
    (500_00, 10_00),
    (1_000_00, 25_00),
    (2_500_00, 50_00),
    (5_000_00, 100_00),
)


def inc(price: int) -> int:
    """inc(p): the step of the highest row whose lower bound is <= p."""
    step = INCREMENTS[0][1]
    for lower, row_step in INCREMENTS:
        if price >= lower:
            step = row_step
    return step


@dataclass(frozen=True)
class Step:
    """One bid's result, as the model predicts it."""

    accepted: bool
    reason: str | None = None  # rejected: the code; None = "some SPEC code" (unspecified)
    minimum: int | None = None  # rejected: the minimum next bid; None = not specified
    seq: int | None = None  # accepted: the sequence number of its BID_ACCEPTED event
    events: int = 0  # how many numbered events the step emitted
    price: int | None = None  # public current price afterwards (None: none / hidden)
    leader: str | None = None  # public leader afterwards (None: none / hidden)
    leading: bool | None = None  # accepted: does the bidder lead; None = not specified
    ended: bool = False  # the auction is over after this step


@dataclass(frozen=True)
class Outcome:
    sold: bool
    winner: str | None = None
    price: int | None = None


UNSOLD = Outcome(False)


@dataclass
class _Base:
    seller: str
    seq: int = 0  # last event number (events are numbered 1, 2, 3... without gaps)
    bids: int = 0  # accepted bids
    ended: bool = False

    def _event(self) -> int:
        self.seq += 1
        return self.seq

    def _rejected(self, reason: str | None, minimum: int | None) -> Step:
        return Step(False, reason=reason, minimum=minimum, price=self.public_price(),
                    leader=self.public_leader(), ended=self.ended)  # fmt: skip

    def public_price(self) -> int | None:
        raise NotImplementedError

    def public_leader(self) -> str | None:
        raise NotImplementedError

    def end_by_time(self) -> int:
        """The auction's end time passed: one ENDED event; returns its number."""
        assert not self.ended
        self.ended = True
        return self._event()


# --------------------------------------------------------------------------- English


@dataclass
class English(_Base):
    start: int = 1
    reserve: int | None = None
    buy_now: int | None = None
    price: int | None = None  # P
    leader: str | None = None  # L
    ceiling: int | None = None  # M
    bought: bool = False

    def public_price(self) -> int | None:
        return self.price

    def public_leader(self) -> str | None:
        return self.leader

    def minimum_next_bid(self) -> int:
        """The starting price before the first bid, else P + inc(P)."""
        return self.start if self.price is None else self.price + inc(self.price)

    def buy_now_open(self) -> bool:
        """Open while there is no bid, or while a reserve exists and P < R."""
        if self.buy_now is None:
            return False
        if self.price is None:
            return True
        return self.reserve is not None and self.price < self.reserve

    def bid(self, bidder: str, amount: int, max_amount: int | None = None) -> Step:
        # maxAmount >= amount is the caller's precondition (else INVALID_AMOUNT, checked
        # before the engine); without it the ceiling is the amount.
        c = amount if max_amount is None else max_amount
        assert c >= amount
        if self.ended:
            return self._rejected("AUCTION_ENDED", None)
        if bidder == self.seller:
            return self._rejected("SELF_BIDDING", self.minimum_next_bid())
        if self.price is None:
            # Rule 1: the first bid needs amount >= starting price.
            if amount < self.start:
                return self._rejected("BID_TOO_LOW", self.minimum_next_bid())
            self.price, self.leader, self.ceiling = amount, bidder, c
            leading = True
        elif bidder == self.leader:
            # Rule 2: the leader only raises M; the ceiling must exceed M.
            assert self.ceiling is not None
            if c <= self.ceiling:
                # The SPEC's "current minimum next bid" (P + inc(P)) does not apply to the
                # leader, who must exceed their own ceiling: left unspecified.
                return self._rejected("BID_TOO_LOW", None)
            self.ceiling = c
            leading = True
        else:
            # Rule 3: everyone else needs amount >= minimum next bid.
            assert self.ceiling is not None
            if amount < self.minimum_next_bid():
                return self._rejected("BID_TOO_LOW", self.minimum_next_bid())
            m = self.ceiling
            if c > m:
                self.price = max(amount, min(c, m + inc(m)))
                self.leader, self.ceiling = bidder, c
                leading = True
            else:  # C <= M (equal ceilings: the earlier one leads)
                self.price = min(m, c + inc(c))
                leading = False
        # Rule 4: after any accepted bid, if R exists, M >= R and P < R, then P = R.
        assert self.price is not None and self.ceiling is not None
        if self.reserve is not None and self.ceiling >= self.reserve and self.price < self.reserve:
            self.price = self.reserve
        self.bids += 1
        seq = self._event()
        return Step(True, seq=seq, events=1, price=self.price, leader=self.leader,
                    leading=leading)  # fmt: skip

    def buy(self, bidder: str) -> Step:
        if self.ended:
            return self._rejected("AUCTION_ENDED", None)
        if bidder == self.seller:
            return self._rejected("SELF_BIDDING", self.minimum_next_bid())
        if not self.buy_now_open():
            # No buy-now, or it closed: the SPEC names no specific code.
            return self._rejected(None, self.minimum_next_bid())
        assert self.buy_now is not None
        # Buy-now ends the auction at once, SOLD to the buyer at the buy-now price: the
        # purchase is an accepted bid, then the auction's ENDED event.
        self.price, self.leader, self.ceiling = self.buy_now, bidder, self.buy_now
        self.bids += 1
        seq = self._event()
        self._event()
        self.ended = self.bought = True
        return Step(True, seq=seq, events=2, price=self.price, leader=bidder, leading=True,
                    ended=True)  # fmt: skip

    def outcome(self) -> Outcome:
        """SOLD to L at P, or UNSOLD with no bids or P < R; buy-now sells at its price."""
        assert self.ended
        if self.bought:
            return Outcome(True, self.leader, self.buy_now)
        if self.price is None or self.leader is None:
            return UNSOLD
        if self.reserve is not None and self.price < self.reserve:
            return UNSOLD
        return Outcome(True, self.leader, self.price)


# --------------------------------------------------------------------------- Dutch


@dataclass
class Dutch(_Base):
    start: int = 1
    step: int = 1
    step_ms: int = 1000  # step interval
    floor: int = 0
    active_ms: int = 0  # when the auction became active (ms since the epoch)
    winner: str | None = None
    price: int | None = None  # the winning price, once sold

    def price_at(self, now_ms: int) -> int:
        """max(floor, start - floor(elapsed / step_interval) * step)."""
        elapsed = max(0, now_ms - self.active_ms)
        return max(self.floor, self.start - (elapsed // self.step_ms) * self.step)

    def public_price(self) -> int | None:
        return self.price

    def public_leader(self) -> str | None:
        return self.winner

    def bid(self, bidder: str, amount: int, now_ms: int) -> Step:
        if self.ended:
            return self._rejected("AUCTION_ENDED", None)
        price = self.price_at(now_ms)
        if bidder == self.seller:
            return self._rejected("SELF_BIDDING", price)
        if amount < price:
            return self._rejected("BID_TOO_LOW", price)
        # The first bid at >= the current price wins at that price and ends the auction.
        self.price, self.winner = price, bidder
        self.bids += 1
        seq = self._event()
        self._event()
        self.ended = True
        return Step(True, seq=seq, events=2, price=price, leader=bidder, leading=True,
                    ended=True)  # fmt: skip

    def buy(self, bidder: str, now_ms: int) -> Step:
        if self.ended:
            return self._rejected("AUCTION_ENDED", None)
        price = self.price_at(now_ms)
        if bidder == self.seller:
            return self._rejected("SELF_BIDDING", price)
        return self._rejected(None, price)  # buy-now is English only

    def outcome(self) -> Outcome:
        assert self.ended
        if self.winner is None:
            return UNSOLD
        return Outcome(True, self.winner, self.price)


# --------------------------------------------------------------------------- sealed


@dataclass
class Sealed(_Base):
    start: int = 1
    reserve: int | None = None
    second_price: bool = False  # Vickrey
    live: dict[str, tuple[int, int]] = field(default_factory=dict)  # bidder -> (amount, seq)

    # Amounts stay hidden until the end: no public price or leader while bidding.
    def public_price(self) -> int | None:
        return None

    def public_leader(self) -> str | None:
        return None

    def bid(self, bidder: str, amount: int) -> Step:
        if self.ended:
            return self._rejected("AUCTION_ENDED", None)
        if bidder == self.seller:
            return self._rejected("SELF_BIDDING", self.start)
        if amount < self.start:
            return self._rejected("BID_TOO_LOW", self.start)
        prior = self.live.get(bidder)
        if prior is not None and amount <= prior[0]:
            # Replaceable only by a higher one; the SPEC names no minimum for this case.
            return self._rejected("BID_TOO_LOW", None)
        self.bids += 1
        seq = self._event()
        self.live[bidder] = (amount, seq)  # the replacement counts at its own time
        # Whether a sealed bid "leads" is hidden until the end: not specified.
        return Step(True, seq=seq, events=1, leading=None)

    def buy(self, bidder: str) -> Step:
        if self.ended:
            return self._rejected("AUCTION_ENDED", None)
        if bidder == self.seller:
            return self._rejected("SELF_BIDDING", self.start)
        return self._rejected(None, self.start)  # buy-now is English only

    def outcome(self) -> Outcome:
        assert self.ended
        if not self.live:
            return UNSOLD
        # Highest wins; ties go to the earlier sequence number.
        ranked = sorted(self.live.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        winner, (best, _) = ranked[0]
        if self.reserve is not None and best < self.reserve:
            return UNSOLD
        if not self.second_price:
            return Outcome(True, winner, best)
        floor = max(self.start, self.reserve or 0)
        if len(ranked) == 1:
            return Outcome(True, winner, floor)
        second = ranked[1][1][0]
        return Outcome(True, winner, max(second, floor))


# --------------------------------------------------------------------------- idempotency


@dataclass
class Idempotency:
    """A retry with the same key returns the first result and never places a second bid.

    Keys belong to the bidder who sent them (a retry is the same user's request).
    """

    first: dict[tuple[str, str], Step] = field(default_factory=dict)

    def apply(self, bidder: str, key: str | None, decide: Callable[[], Step]) -> Step:
        if key is None:
            return decide()
        if (bidder, key) not in self.first:
            self.first[(bidder, key)] = decide()
        return self.first[(bidder, key)]
