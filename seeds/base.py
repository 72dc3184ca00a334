"""What every part of the demo data builder shares: ids, the row lists, one random source
(`random.Random(42)`, so the data is the same on every run) and times relative to `now`."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from storage.tables import (
    Auction,
    AuctionEvent,
    Bid,
    FraudFlag,
    Item,
    Notification,
    NotificationCounter,
    User,
    Watch,
)

NAMESPACE = uuid.UUID("6f1c0b8e-5d2a-4c1e-9a7b-3e8d2f4a6c10")


def seed_id(kind: str, key: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"gavel-seed:{kind}:{key}")


def to_ms(moment: datetime) -> int:
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
    notification_counters: list[NotificationCounter] = field(default_factory=list)
    # The admin queue's demo flags (seeds/fraud_flags.py).
    fraud_flags: list[FraudFlag] = field(default_factory=list)

    def tables(self) -> list[tuple[str, list[Any]]]:
        return [
            ("users", self.users),
            ("items", self.items),
            ("auctions", self.auctions),
            ("bids", self.bids),
            ("auction_events", self.auction_events),
            ("watchlist", self.watchlist),
            ("notifications", self.notifications),
            ("notification_counters", self.notification_counters),
            ("fraud_flags", self.fraud_flags),
        ]


def nice(minor: int) -> int:
    """Round a price in minor units to something a person would type."""
    major = max(1, minor // 100)
    if major >= 1000:
        major = round(major / 50) * 50
    elif major >= 100:
        major = round(major / 5) * 5
    return max(1, major) * 100


class BuilderBase:
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

    def _bidder_pool(self, a: Auction, size: int) -> list[User]:
        pool = [u for u in self.bidders + self.sellers if u.id != a.seller_id]
        return self.rng.sample(pool, size)
