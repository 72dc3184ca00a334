"""Builds the demo rows in memory: deterministic (`random.Random(42)`), times relative to `now`.

Every row gets a fixed id (uuid5 of a namespace and a stable name), so the loader can insert
with ON CONFLICT DO NOTHING and a second run changes nothing.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.categories import CATEGORIES
from domain.enums import AuctionOutcome, AuctionStatus, AuctionType, ItemCondition, Role
from domain.events import AnyEvent, BidAccepted, Ended, EndReason, EndTerms, stored_event
from domain.outcome import FinalState, SealedBid, decide
from domain.pricing import increment
from domain.public_state import dutch_price_at, terms_of
from seeds.catalog_data import (
    CATALOG,
    CITIES,
    CONDITION_SENTENCES,
    DESCRIPTION_CLOSERS,
    FIRST_NAMES,
    LAST_NAMES,
    SHOP_WORDS,
    STREETS,
    CategorySpec,
)
from storage.tables import Auction, AuctionEvent, Bid, Item, Notification, User, Watch

NAMESPACE = uuid.UUID("6f1c0b8e-5d2a-4c1e-9a7b-3e8d2f4a6c10")

ADMIN_EMAIL = "admin@gavel.test"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "gavel-admin-password"
DEMO_PASSWORD = "gavel-demo-password"

SELLER_COUNT = 12
BIDDER_COUNT = 45
ITEMS_PER_CATEGORY = 20
MIN_PER_PAIR = 3

TYPES = tuple(AuctionType)
STATUSES = tuple(AuctionStatus)


def seed_id(kind: str, key: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"gavel-seed:{kind}:{key}")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class SeedRows:
    """Rows per table, in foreign-key order."""

    users: list[User] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    auctions: list[Auction] = field(default_factory=list)
    bids: list[Bid] = field(default_factory=list)
    auction_events: list[AuctionEvent] = field(default_factory=list)
    watchlist: list[Watch] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def tables(self) -> list[tuple[str, list[Any]]]:
        return [
            ("users", self.users),
            ("items", self.items),
            ("auctions", self.auctions),
            ("bids", self.bids),
            ("auction_events", self.auction_events),
            ("watchlist", self.watchlist),
            ("notifications", self.notifications),
        ]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum()).lower()


def _nice(minor: int) -> int:
    """Round a price in minor units to something a person would type."""
    major = max(1, minor // 100)
    if major >= 1000:
        major = round(major / 50) * 50
    elif major >= 100:
        major = round(major / 5) * 5
    return max(1, major) * 100


class _Builder:
    def __init__(self, now: datetime, password_hashes: dict[str, str]) -> None:
        self.now = now
        self.hashes = password_hashes
        self.rng = random.Random(42)
        self.rows = SeedRows()
        self.sellers: list[User] = []
        self.bidders: list[User] = []
        self.usernames: set[str] = set()

    # -- helpers -------------------------------------------------------------------------

    def ago(self, low: timedelta, high: timedelta) -> datetime:
        return self.now - self._span(low, high)

    def ahead(self, low: timedelta, high: timedelta) -> datetime:
        return self.now + self._span(low, high)

    def _span(self, low: timedelta, high: timedelta) -> timedelta:
        seconds = self.rng.uniform(low.total_seconds(), high.total_seconds())
        return timedelta(seconds=int(seconds))

    def _times_between(self, start: datetime, end: datetime, count: int) -> list[datetime]:
        total = int((end - start).total_seconds())
        offsets = sorted(self.rng.sample(range(1, max(total, count + 1)), count))
        return [start + timedelta(seconds=s) for s in offsets]

    # -- users ---------------------------------------------------------------------------

    def _unique_username(self, candidates: list[str]) -> str:
        for name in candidates:
            if name.lower() not in self.usernames and 3 <= len(name) <= 32:
                self.usernames.add(name.lower())
                return name
        raise AssertionError("ran out of username candidates")

    def _address(self, first: str, last: str) -> dict[str, Any]:
        city, region, country = self.rng.choice(CITIES)
        return {
            "name": f"{first} {last}",
            "line1": f"{self.rng.randint(1, 480)} {self.rng.choice(STREETS)}",
            "city": city,
            "region": region or None,
            "postal_code": f"{self.rng.randint(10000, 99999)}",
            "country": country,
        }

    def _user(
        self,
        username: str,
        display_name: str,
        roles: list[Role],
        password: str,
        *,
        address: dict[str, Any] | None,
        reputation: float,
        verified: bool,
        age_days: tuple[int, int],
    ) -> User:
        created = self.ago(timedelta(days=age_days[0]), timedelta(days=age_days[1]))
        user = User(
            id=seed_id("user", username.lower()),
            username=username,
            email=f"{username.lower()}@gavel.test",
            password_hash=self.hashes[password],
            display_name=display_name,
            roles=[r.value for r in roles],
            address=address,
            email_verified_at=created + timedelta(minutes=17) if verified else None,
            reputation_score=reputation,
            created_at=created,
            updated_at=created,
        )
        self.rows.users.append(user)
        return user

    def users(self) -> None:
        rng = self.rng
        self.usernames.add(ADMIN_USERNAME)
        self._user(
            ADMIN_USERNAME,
            "Gavel Admin",
            [Role.ADMIN, Role.SELLER, Role.BIDDER],
            ADMIN_PASSWORD,
            address=None,
            reputation=5.0,
            verified=True,
            age_days=(300, 400),
        )
        firsts = rng.sample(FIRST_NAMES, len(FIRST_NAMES))
        for i in range(SELLER_COUNT):
            first, last = firsts[i], rng.choice(LAST_NAMES)
            shop = SHOP_WORDS[i % len(SHOP_WORDS)]
            name = self._unique_username(
                [f"{_ascii(first)}_{shop}", f"{_ascii(first)}{_ascii(last)}_{shop}"]
            )
            self.sellers.append(
                self._user(
                    name,
                    f"{first}'s {shop.title()}" if i % 2 else f"{first} {last}",
                    [Role.SELLER, Role.BIDDER],
                    DEMO_PASSWORD,
                    address=self._address(first, last),
                    reputation=round(rng.uniform(3.5, 5.0), 2),
                    verified=True,
                    age_days=(120, 700),
                )
            )
        for _ in range(BIDDER_COUNT):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            f, last_ascii = _ascii(first), _ascii(last)
            n = rng.randint(2, 99)
            candidates = [f"{f}.{last_ascii}", f"{f}{last_ascii[0]}{n}", f"{f}_{last_ascii}{n}"]
            style = rng.randrange(3)
            name = self._unique_username(candidates[style:] + candidates[:style])
            self.bidders.append(
                self._user(
                    name,
                    f"{first} {last}" if rng.random() < 0.7 else f"{first} {last[0]}.",
                    [Role.BIDDER],
                    DEMO_PASSWORD,
                    address=self._address(first, last) if rng.random() < 0.25 else None,
                    reputation=round(rng.uniform(3.0, 5.0), 2) if rng.random() < 0.6 else 0.0,
                    verified=rng.random() < 0.85,
                    age_days=(2, 500),
                )
            )

    # -- items ---------------------------------------------------------------------------

    def items(self) -> None:
        rng = self.rng
        conditions = list(ItemCondition)
        weights = [20, 25, 35, 12, 8]
        titles: set[str] = set()
        for top, spec in CATALOG.items():
            for k in range(ITEMS_PER_CATEGORY):
                sub = rng.choice(sorted(spec.nouns))
                category = f"{top}/{sub}"
                assert category in CATEGORIES, category
                noun, brand = rng.choice(spec.nouns[sub]), rng.choice(spec.brands)
                for _ in range(20):
                    title = f"{rng.choice(spec.adjectives)} {brand} {noun}"
                    if spec.suffixes and rng.random() < 0.5:
                        title += f" - {rng.choice(spec.suffixes)}"
                    if title not in titles:
                        break
                    brand = rng.choice(spec.brands)
                titles.add(title)
                condition = rng.choices(conditions, weights)[0]
                attributes = self._attributes(spec)
                self.rows.items.append(
                    Item(
                        id=seed_id("item", f"{top}:{k}"),
                        seller_id=rng.choice(self.sellers).id,
                        title=title,
                        description=self._description(
                            title, brand, noun, sub, condition, attributes
                        ),
                        category=category,
                        condition=condition.value,
                        attributes=attributes,
                        created_at=self.ago(timedelta(days=25), timedelta(days=40)),
                    )
                )

    def _attributes(self, spec: CategorySpec) -> dict[str, Any]:
        if self.rng.random() < 0.3:
            return {}
        keys = sorted(spec.attributes)
        chosen = self.rng.sample(keys, self.rng.randint(1, len(keys)))
        return {key: self.rng.choice(spec.attributes[key]) for key in sorted(chosen)}

    def _description(
        self,
        title: str,
        brand: str,
        noun: str,
        sub: str,
        condition: ItemCondition,
        attributes: dict[str, Any],
    ) -> str:
        rng = self.rng
        parts = [
            f"{title}.",
            f"A {rng.choice(('lovely', 'sought-after', 'well-kept', 'striking'))} "
            f"{brand} {noun} from our {sub.replace('-', ' ')} collection.",
            CONDITION_SENTENCES[condition.value],
        ]
        if attributes:
            details = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in attributes.items())
            parts.append(f"Details - {details}.")
        parts.extend(rng.sample(DESCRIPTION_CLOSERS, 2))
        return " ".join(parts)

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
        start = _nice(int(lo * (hi / lo) ** rng.random() * 100))
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
        if kind is AuctionType.DUTCH:
            a.dutch_floor = max(100, _nice(int(start * rng.uniform(0.3, 0.6))))
            if a.dutch_floor >= start:
                a.starting_price = start = a.dutch_floor + 500
            a.dutch_step = max(100, _nice((start - a.dutch_floor) // rng.choice((8, 12, 20))))
            a.dutch_step_seconds = rng.choice((60, 300, 900, 3600))
        else:
            if rng.random() < 0.35:
                a.reserve_price = _nice(int(start * rng.uniform(1.3, 2.5)))
            if kind is AuctionType.ENGLISH:
                if rng.random() < 0.25:
                    a.buy_now_price = _nice(int(max(start * 3, (a.reserve_price or 0) * 1.5)))
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

    def _bidder_pool(self, a: Auction, size: int) -> list[User]:
        pool = [u for u in self.bidders + self.sellers if u.id != a.seller_id]
        return self.rng.sample(pool, size)

    def _english_amounts(self, a: Auction, count: int, until: int | None) -> list[int]:
        """`count` increasing amounts (then more until `until` is reached), below buy-now."""
        amounts: list[int] = []
        price = a.starting_price
        while len(amounts) < count or (until is not None and amounts[-1] < until):
            if a.buy_now_price is not None and price >= a.buy_now_price:
                break
            amounts.append(price)
            step = increment(price, a.currency)
            price = max(price + step, _nice(int(price * self.rng.uniform(1.02, 1.15))))
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
            at_ms=_ms(at),
            price=None if sealed else amount,
            bid_count=seq,
            ends_ms=_ms(a.ends_at),
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
            amounts.add(_nice(int(a.starting_price * self.rng.uniform(1.0, 2.2))))
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
                a.reserve_price = max(a.reserve_price or 0, _nice(a.starting_price * 3))
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
                a.reserve_price = max(a.reserve_price or 0, _nice(int(highest * 1.3)) + 100)
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
                at_ms=_ms(ended_at),
                price=None if sealed else a.current_price,
                bid_count=a.bid_count,
                ends_ms=_ms(a.ends_at),
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

    # -- watchlist and notifications -----------------------------------------------------

    def social(self) -> None:
        rng = self.rng
        visible = [
            a
            for a in self.rows.auctions
            if a.status in (AuctionStatus.ACTIVE, AuctionStatus.SCHEDULED, AuctionStatus.ENDED)
        ]
        by_id = {u.id: u for u in self.rows.users}
        titles = {i.id: i.title for i in self.rows.items}
        bids_of: dict[uuid.UUID, list[Bid]] = {}
        for bid in self.rows.bids:
            bids_of.setdefault(bid.auction_id, []).append(bid)
        for a in rng.sample(visible, min(90, len(visible))):
            for user in self._bidder_pool(a, rng.randint(1, 4)):
                since = a.published_at or self.now
                self.rows.watchlist.append(
                    Watch(
                        user_id=user.id,
                        auction_id=a.id,
                        created_at=since + self._span(timedelta(0), timedelta(hours=6)),
                    )
                )
        notes: list[tuple[User, str, str, Auction, datetime]] = []
        for a in self.rows.auctions:
            title = titles[a.item_id]
            if a.winner_id is not None and a.ended_at is not None:
                msg = f'You won "{title}".'
                notes.append((by_id[a.winner_id], "AUCTION_WON", msg, a, a.ended_at))
            bids = bids_of.get(a.id, [])
            if a.status == AuctionStatus.ACTIVE and a.type == AuctionType.ENGLISH and len(bids) > 1:
                loser = by_id[bids[-2].bidder_id]
                msg = f'You were outbid on "{title}".'
                notes.append((loser, "OUTBID", msg, a, bids[-1].placed_at))
        for user, kind, message, a, at in notes:
            self.rows.notifications.append(
                Notification(
                    id=seed_id("notification", f"{kind}:{a.id}:{user.id}"),
                    user_id=user.id,
                    kind=kind,
                    message=message,
                    auction_id=a.id,
                    read_at=at + timedelta(hours=2) if rng.random() < 0.4 else None,
                    created_at=at,
                )
            )


def build(now: datetime, password_hashes: dict[str, str]) -> SeedRows:
    """All demo rows; `password_hashes` maps ADMIN_PASSWORD and DEMO_PASSWORD to hashes."""
    builder = _Builder(now, password_hashes)
    builder.users()
    builder.items()
    builder.auctions()
    builder.social()
    return builder.rows
