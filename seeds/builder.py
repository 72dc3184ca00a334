"""Builds the demo rows in memory: deterministic (`random.Random(42)`), times relative to `now`.

Every row gets a fixed id (uuid5 of a namespace and a stable name), so the loader can insert
with ON CONFLICT DO NOTHING and a second run changes nothing. Users, items and the social
rows are built here; the auctions' histories in seeds/auction_histories.py.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import Any

from domain.categories import CATEGORIES
from domain.enums import AuctionStatus, AuctionType, ItemCondition, Role
from seeds.auction_histories import AuctionHistories
from seeds.base import SeedRows, seed_id
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
from seeds.fraud_flags import demo_flags
from storage.tables import Auction, Bid, Item, Notification, NotificationCounter, User, Watch

ADMIN_EMAIL = "admin@gavel.test"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "gavel-admin-password"
DEMO_PASSWORD = "gavel-demo-password"

SELLER_COUNT = 12
BIDDER_COUNT = 45
ITEMS_PER_CATEGORY = 20


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum()).lower()


class _Builder(AuctionHistories):
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
        # Numbered per user in creation order, as storage/notification_writer.py would.
        last_seq: dict[uuid.UUID, int] = {}
        for user, kind, message, a, at in sorted(notes, key=lambda n: (n[4], n[1], n[3].id)):
            last_seq[user.id] = last_seq.get(user.id, 0) + 1
            self.rows.notifications.append(
                Notification(
                    id=seed_id("notification", f"{kind}:{a.id}:{user.id}"),
                    user_id=user.id,
                    seq=last_seq[user.id],
                    kind=kind,
                    message=message,
                    auction_id=a.id,
                    read_at=at + timedelta(hours=2) if rng.random() < 0.4 else None,
                    created_at=at,
                    emailed_at=at,  # demo history: never mailed
                )
            )
        self.rows.notification_counters.extend(
            NotificationCounter(user_id=user_id, last_seq=seq) for user_id, seq in last_seq.items()
        )


def build(now: datetime, password_hashes: dict[str, str]) -> SeedRows:
    """All demo rows; `password_hashes` maps ADMIN_PASSWORD and DEMO_PASSWORD to hashes."""
    builder = _Builder(now, password_hashes)
    builder.users()
    builder.items()
    builder.auctions()
    builder.social()
    builder.rows.fraud_flags = demo_flags(builder.rows, now)
    return builder.rows
