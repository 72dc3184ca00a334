"""The demo auctions' histories: schedules by status, bids by type, and ends decided by
the engine's rules (domain/outcome.py), each change kept as the engine's event."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from domain.enums import AuctionOutcome, AuctionStatus, AuctionType
from domain.events import AnyEvent, BidAccepted, Ended, EndReason, EndTerms, stored_event
from domain.outcome import FinalState, SealedBid, decide
from domain.pricing import increment
from domain.public_state import dutch_price_at, terms_of
from seeds.base import BuilderBase, nice, seed_id, to_ms
from seeds.catalog_data import CATALOG
from storage.tables import Auction, AuctionEvent, Bid, Item, User

MIN_PER_PAIR = 3  # auctions of every (type, status) pair at least

TYPES = tuple(AuctionType)
STATUSES = tuple(AuctionStatus)


class AuctionHistories(BuilderBase):
    # -- auctions ------------------------------------------------------------------------

    def _plan(self) -> list[tuple[AuctionType, AuctionStatus]]:
        rng = self.rng
        plan = [(t, s) for t in TYPES for s in STATUSES for _ in range(MIN_PER_PAIR)]
        status_weights = [8, 12, 45, 25, 10]
        type_weights = [55, 15, 15, 15]
        while len(plan) < len(self.rows.items):
            plan.append(
                (rng.choices(TYPES, type_weights)[0], rng.choices(STATUSES, status_weights)[0])
            )
        rng.shuffle(plan)
        return plan

    def auctions(self) -> None:
        for item, (kind, status) in zip(self.rows.items, self._plan(), strict=True):
            self._auction(item, kind, status)

    def _auction(self, item: Item, kind: AuctionType, status: AuctionStatus) -> None:
        rng = self.rng
        spec = CATALOG[item.category.split("/")[0]]
        lo, hi = spec.price_range
        start = nice(int(lo * (hi / lo) ** rng.random() * 100))
        currency = rng.choices(("USD", "EUR", "GBP"), (75, 15, 10))[0]
        a = Auction(
            id=seed_id("auction", item.id),
            item_id=item.id,
            seller_id=item.seller_id,
            type=kind.value,
            status=status.value,
            currency=currency,
            starting_price=start,
            created_at=item.created_at,
            featured=status is AuctionStatus.ACTIVE and rng.random() < 0.12,
        )
        if a.featured:  # as an admin's featuring records it (services/featuring.py)
            a.featured_at = item.created_at
        if kind is AuctionType.DUTCH:
            a.dutch_floor = max(100, nice(int(start * rng.uniform(0.3, 0.6))))
            if a.dutch_floor >= start:
                a.starting_price = start = a.dutch_floor + 500
            a.dutch_step = max(100, nice((start - a.dutch_floor) // rng.choice((8, 12, 20))))
            a.dutch_step_seconds = rng.choice((60, 300, 900, 3600))
        else:
            if rng.random() < 0.35:
                a.reserve_price = nice(int(start * rng.uniform(1.3, 2.5)))
            if kind is AuctionType.ENGLISH:
                if rng.random() < 0.25:
                    a.buy_now_price = nice(int(max(start * 3, (a.reserve_price or 0) * 1.5)))
                if rng.random() < 0.6:
                    a.soft_close_window_seconds = 300
                    a.soft_close_extension_seconds = 120
        self._schedule(a, status)
        self.rows.auctions.append(a)
        if status is AuctionStatus.ACTIVE:
            self._active_bids(a, kind)
        elif status is AuctionStatus.ENDED:
            self._ended(a, kind)
        a.updated_at = max(
            t for t in (a.created_at, a.published_at, a.cancelled_at, a.ended_at) if t is not None
        )

    def _schedule(self, a: Auction, status: AuctionStatus) -> None:
        day, hour = timedelta(days=1), timedelta(hours=1)
        if status is AuctionStatus.DRAFT:
            a.starts_at = self.ahead(day, 3 * day) if self.rng.random() < 0.5 else None
            a.ends_at = self.ahead(7 * day, 14 * day)
        elif status is AuctionStatus.SCHEDULED:
            a.published_at = self.ago(hour, 2 * day)
            a.starts_at = self.ahead(hour, 5 * day)
            a.ends_at = a.starts_at + self._span(day, 10 * day)
        elif status is AuctionStatus.ACTIVE:
            a.ends_at = self.ahead(timedelta(minutes=10), 7 * day)
            a.starts_at = self.ago(hour, 6 * day)
            a.activated_at = a.starts_at
            a.published_at = a.starts_at - self._span(timedelta(0), day)
        elif status is AuctionStatus.ENDED:
            a.ends_at = self.ago(hour, 20 * day)
            a.starts_at = a.ends_at - self._span(day, 4 * day)
            a.activated_at = a.starts_at
            a.published_at = a.starts_at - self._span(timedelta(0), day)
            a.ended_at = a.ends_at
        else:
            a.starts_at = self.ago(2 * day, 8 * day)
            a.ends_at = a.starts_at + 10 * day
            a.activated_at = a.published_at = a.starts_at
            a.cancelled_at = a.starts_at + self._span(hour, day)
            a.cancel_reason = self.rng.choice(
                ("Item no longer available.", "Listed in the wrong category.", None)
            )
        first_touch = a.published_at or self.now
        a.created_at = min(a.created_at, first_touch - timedelta(minutes=5))

    # -- bids ----------------------------------------------------------------------------

    def _english_amounts(self, a: Auction, count: int, until: int | None) -> list[int]:
        """`count` increasing amounts (then more until `until` is reached), below buy-now."""
        amounts: list[int] = []
        price = a.starting_price
        while len(amounts) < count or (until is not None and amounts[-1] < until):
            if a.buy_now_price is not None and price >= a.buy_now_price:
                break
            amounts.append(price)
            step = increment(price, a.currency)
            price = max(price + step, nice(int(price * self.rng.uniform(1.02, 1.15))))
        return amounts

    def _place(
        self, a: Auction, entries: list[tuple[User, int]], start: datetime, end: datetime
    ) -> None:
        self._place_at(a, entries, self._times_between(start, end, len(entries)))

    def _place_at(self, a: Auction, entries: list[tuple[User, int]], times: list[datetime]) -> None:
        for seq, ((bidder, amount), at) in enumerate(zip(entries, times, strict=True), start=1):
            bid_id = seed_id("bid", f"{a.id}:{seq}")
            self.rows.bids.append(
                Bid(
                    id=bid_id,
                    auction_id=a.id,
                    bidder_id=bidder.id,
                    sequence=seq,
                    amount=amount,
                    currency=a.currency,
                    placed_at=at,
                )
            )
            self._record(a, self._bid_event(a, seq, bidder, amount, at), at)
        a.bid_count = a.last_sequence = len(entries)

    @staticmethod
    def _bid_event(a: Auction, seq: int, bidder: User, amount: int, at: datetime) -> BidAccepted:
        """The bid's BID_ACCEPTED event, as the engine emits it (realtime/lua/bid.lua)."""
        sealed = AuctionType(a.type).sealed
        return BidAccepted(
            sequence=seq,
            at_ms=to_ms(at),
            price=None if sealed else amount,
            bid_count=seq,
            ends_ms=to_ms(a.ends_at),
            leader=None if sealed else str(bidder.id),
            status=AuctionStatus.ACTIVE.value,
            bidder=str(bidder.id),
            amount=amount,
            max_amount=amount,
            leading=not sealed,
        )

    def _english_entries(self, a: Auction, amounts: list[int]) -> list[tuple[User, int]]:
        pool = self._bidder_pool(a, self.rng.randint(2, 5))
        entries: list[tuple[User, int]] = []
        for amount in amounts:
            choices = [u for u in pool if not entries or u is not entries[-1][0]]
            entries.append((self.rng.choice(choices), amount))
        if entries:
            a.current_price, a.leader_id = entries[-1][1], entries[-1][0].id
        return entries

    def _sealed_entries(self, a: Auction, count: int, top: int | None) -> list[tuple[User, int]]:
        """`count` distinct amounts from distinct bidders; at least `top` for the highest."""
        amounts: set[int] = set()
        while len(amounts) < count:
            amounts.add(nice(int(a.starting_price * self.rng.uniform(1.0, 2.2))))
        ordered = sorted(amounts)
        if top is not None and ordered and ordered[-1] < top:
            ordered[-1] = top
        self.rng.shuffle(ordered)
        return list(zip(self._bidder_pool(a, count), ordered, strict=True))

    def _active_bids(self, a: Auction, kind: AuctionType) -> None:
        assert a.starts_at is not None
        end = self.now - timedelta(minutes=1)
        if kind is AuctionType.ENGLISH:
            count = self.rng.choice((0, 1, 2, 3, 4, 5, 6, 8, 10, 12))
            entries = self._english_entries(a, self._english_amounts(a, count, None))
        elif kind.sealed:
            entries = self._sealed_entries(a, self.rng.randint(0, 4), None)
        else:
            entries = []  # a Dutch bid ends the auction
        self._place(a, entries, a.starts_at, end)

    def _ended(self, a: Auction, kind: AuctionType) -> None:
        rng = self.rng
        assert a.starts_at is not None
        sold = rng.random() < 0.65
        entries: list[tuple[User, int]] = []
        if kind is AuctionType.DUTCH:
            if sold:
                (winner,) = self._bidder_pool(a, 1)
                (at,) = self._times_between(a.starts_at, a.ends_at, 1)
                # The first bid at the clock's price takes it (docs/auction-rules.md).
                price = dutch_price_at(terms_of(a), at)
                entries = [(winner, price)]
                a.current_price, a.leader_id = price, winner.id
                self._place_at(a, entries, [at])
                a.ended_at = at
        elif kind is AuctionType.ENGLISH:
            if sold:
                amounts = self._english_amounts(a, rng.randint(1, 10), a.reserve_price)
            elif rng.random() < 0.5:
                amounts = []
            else:  # bidding stopped below the reserve
                a.reserve_price = max(a.reserve_price or 0, nice(a.starting_price * 3))
                a.buy_now_price = None
                amounts = self._english_amounts(a, rng.randint(1, 4), None)
                amounts = [x for x in amounts if x < a.reserve_price]
            entries = self._english_entries(a, amounts)
            self._place(a, entries, a.starts_at, a.ends_at)
        else:
            if sold:
                entries = self._sealed_entries(a, rng.randint(1, 6), a.reserve_price)
            elif rng.random() < 0.5:
                entries = []
            else:  # every sealed bid fell short of the reserve
                entries = self._sealed_entries(a, rng.randint(1, 4), None)
                highest = max(amount for _, amount in entries)
                a.reserve_price = max(a.reserve_price or 0, nice(int(highest * 1.3)) + 100)
            self._place(a, entries, a.starts_at, a.ends_at)
        self._decide(a, kind, entries)
        assert (a.outcome == AuctionOutcome.SOLD.value) == (sold and bool(entries))
        self._end_event(a, kind, entries)

    def _end_event(self, a: Auction, kind: AuctionType, entries: list[tuple[User, int]]) -> None:
        """The ENDED event, as the engine emits it: a Dutch auction's winning bid ends it
        (realtime/lua/bid.lua), anything else the closer at its end time, with the terms
        and, sealed, the live bids that decide it (realtime/lua/close.lua)."""
        by_bid = kind is AuctionType.DUTCH and bool(entries)
        sealed = kind.sealed
        a.last_sequence = len(entries) + 1
        ended_at = a.ended_at or a.ends_at
        self._record(
            a,
            Ended(
                sequence=a.last_sequence,
                at_ms=to_ms(ended_at),
                price=None if sealed else a.current_price,
                bid_count=a.bid_count,
                ends_ms=to_ms(a.ends_at),
                leader=None if sealed or a.leader_id is None else str(a.leader_id),
                status=AuctionStatus.ENDED.value,
                reason=(EndReason.ACCEPTED if by_bid else EndReason.TIME).value,
                sealed_bids=None
                if by_bid
                else tuple(
                    SealedBid(str(bidder.id), amount, sequence)
                    for sequence, (bidder, amount) in enumerate(entries, start=1)
                    if sealed
                ),
                terms=None if by_bid else EndTerms(a.starting_price, a.reserve_price),
            ),
            ended_at,
        )

    def _record(self, a: Auction, event: AnyEvent, at: datetime) -> None:
        """Keeps `event` as the persister stores one (`auction_events.payload`); `at` is
        the moment the row says, to the microsecond (the event's is in milliseconds)."""
        self.rows.auction_events.append(
            AuctionEvent(
                auction_id=a.id,
                sequence=event.sequence,
                kind=event.kind.value,
                payload=stored_event(event),
                at=at,
            )
        )

    def _decide(self, a: Auction, kind: AuctionType, entries: list[tuple[User, int]]) -> None:
        """The outcome, by the rules the engine's closer applies (domain/outcome.py), and
        the record as the persister writes an end (a sealed auction's price and leader
        become public with it)."""
        outcome = decide(
            FinalState(
                type=kind,
                starting_price=a.starting_price,
                reserve_price=a.reserve_price,
                price=a.current_price,
                leader=str(a.leader_id) if a.leader_id else None,
                sealed_bids=tuple(
                    SealedBid(str(bidder.id), amount, sequence)
                    for sequence, (bidder, amount) in enumerate(entries, start=1)
                )
                if kind.sealed
                else (),
            )
        )
        a.outcome = outcome.result.value
        a.winner_id = uuid.UUID(outcome.winner) if outcome.winner else None
        a.final_price = outcome.price
        if kind.sealed:
            a.current_price, a.leader_id = outcome.price, a.winner_id
