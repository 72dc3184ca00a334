"""A deterministic corpus of auctions for search tests and the search benchmark.

`write_corpus(engine, n, now)` inserts `n` auctions (and their items and a few sellers)
with realistic titles and descriptions per category, every type, status and condition,
buy-now prices, reserves, bid counts and current prices, plus the hand-written `KNOWN`
listings the relevance tests look for. The same `n` and `seed` give the same rows.

Rows are consistent the simplest way: an auction's `bid_count` and `current_price` are
set on its row (no bid rows: searching reads only auctions and items); an ENDED auction
has its outcome, a CANCELLED one its cancel time. One deliberate departure: an
open sealed auction keeps its highest (hidden) bid in `current_price`, where the
persister leaves it empty until the end, so the privacy tests have an amount on the
row that search must never reveal. Rows go in with PostgreSQL's COPY: 100,000 auctions take
seconds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.categories import CATEGORIES
from domain.enums import AuctionStatus, AuctionType, ItemCondition
from storage.tables import User

CORPUS_NAMESPACE = uuid.UUID("0d9a4c55-77a4-4f1e-8a2b-5a6b1f3c9e21")
SELLERS = 25
ROWS_PER_COPY = 5_000

_ADJECTIVES = [
    "vintage",
    "antique",
    "rare",
    "modern",
    "classic",
    "restored",
    "handmade",
    "original",
    "compact",
    "portable",
    "signed",
    "limited",
    "mint",
    "boxed",
    "used",
    "professional",
    "deluxe",
    "miniature",
    "heavy",
    "lightweight",
    "polished",
    "weathered",
    "elegant",
    "rustic",
    "retro",
    "sturdy",
    "genuine",
    "unique",
]
_MATERIALS = [
    "oak",
    "teak",
    "brass",
    "silver",
    "leather",
    "steel",
    "chrome",
    "glass",
    "ceramic",
    "bronze",
]
_COLOURS = [
    "black",
    "white",
    "red",
    "blue",
    "green",
    "amber",
    "ivory",
    "graphite",
    "olive",
    "burgundy",
]
_NOUNS: dict[str, tuple[str, ...]] = {
    "antiques": ("cabinet", "dresser", "mirror", "lamp", "chest", "bureau", "candlestick"),
    "art": ("painting", "print", "etching", "sculpture", "canvas", "lithograph", "portrait"),
    "books": ("novel", "atlas", "almanac", "comic", "textbook", "folio", "manuscript"),
    "cameras": ("camera", "lens", "tripod", "rangefinder", "flash", "drone", "viewfinder"),
    "coins": ("coin", "dollar", "sovereign", "medal", "ingot", "token", "florin"),
    "collectibles": ("figurine", "stamp", "poster", "card", "badge", "model", "pennant"),
    "computers": ("laptop", "keyboard", "monitor", "motherboard", "processor", "desktop"),
    "electronics": ("turntable", "amplifier", "speaker", "headphones", "radio", "console"),
    "fashion": ("watch", "handbag", "necklace", "jacket", "sneakers", "bracelet", "scarf"),
    "home": ("kettle", "blender", "planter", "toolbox", "armchair", "rug", "clock"),
    "music": ("guitar", "violin", "piano", "record", "synthesizer", "trumpet", "drum"),
    "sports": ("bicycle", "racket", "helmet", "golfclub", "treadmill", "tent", "kayak"),
    "vehicles": ("roadster", "motorcycle", "scooter", "bumper", "carburetor", "headlight"),
}
_BRANDS: dict[str, tuple[str, ...]] = {
    "cameras": ("Leica", "Nikon", "Canon", "Hasselblad", "Pentax", "Olympus", "Rolleiflex"),
    "electronics": ("Technics", "Marantz", "Sony", "Pioneer", "Bang", "Yamaha"),
    "computers": ("Apple", "Commodore", "Lenovo", "Dell", "Atari", "Amiga"),
    "fashion": ("Rolex", "Omega", "Seiko", "Hermes", "Gucci", "Longines"),
    "music": ("Fender", "Gibson", "Steinway", "Roland", "Moog", "Selmer"),
    "sports": ("Trek", "Wilson", "Titleist", "Bianchi", "Shimano"),
    "vehicles": ("Triumph", "Ducati", "Porsche", "Vespa", "Jaguar"),
}
_PHRASES = (
    "Comes from a smoke-free home.",
    "Shows light wear consistent with age.",
    "Tested and working.",
    "Shipped carefully packed and insured.",
    "Includes the original box and papers.",
    "A great piece for any collection.",
    "Minor scratches, see the photos.",
    "Serviced recently by a specialist.",
    "Sold as seen, no returns.",
    "Ideal gift for an enthusiast.",
)
_CURRENCIES = (("USD", 2), ("USD", 2), ("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0))


@dataclass(frozen=True, slots=True)
class Known:
    """A hand-written listing the relevance table looks for."""

    key: str
    title: str
    description: str
    category: str


KNOWN: tuple[Known, ...] = (
    Known(
        "walnut-turntable",
        "Walnut turntable with belt drive",
        "A record player in a solid walnut plinth, new belt, plays 33 and 45.",
        "electronics/audio",
    ),
    Known(
        "walnut-table",
        "Walnut side table",
        "A small side table; pairs well with a turntable or a lamp.",
        "antiques/furniture",
    ),
    Known(
        "turntable-belt",
        "Turntable replacement belt",
        "Fits most belt drive decks.",
        "electronics/audio",
    ),
    Known(
        "vintage-camera",
        "Vintage camera with leather case",
        "A 1950s folding film camera, shutter fires at every speed.",
        "cameras/film",
    ),
    Known(
        "victorian-house",
        "Victorian dolls house",
        "A three storey wooden house with furniture and tiny lamps.",
        "collectibles/toys",
    ),
    Known(
        "harpsichord",
        "Flemish harpsichord kit",
        "An unfinished harpsichord kit with all parts and plans.",
        "music/instruments",
    ),
    Known(
        "espresso",
        "Lever espresso machine",
        "Chrome lever espresso machine, pulls a fine shot.",
        "home/kitchen",
    ),
)


def corpus_id(kind: str, key: object) -> uuid.UUID:
    return uuid.uuid5(CORPUS_NAMESPACE, f"{kind}:{key}")


def known_auction_id(key: str) -> uuid.UUID:
    """The auction id of the `KNOWN` listing `key`."""
    return corpus_id("auction", f"known:{key}")


def _text(rng: random.Random, category: str) -> tuple[str, str]:
    top = category.split("/")[0]
    noun = rng.choice(_NOUNS[top])
    brand = rng.choice(_BRANDS.get(top, ("",))) if rng.random() < 0.6 else ""
    words = [rng.choice(_ADJECTIVES)]
    if rng.random() < 0.4:
        words.append(rng.choice(_MATERIALS))
    if rng.random() < 0.3:
        words.append(rng.choice(_COLOURS))
    words += [w for w in (brand, noun) if w]
    if rng.random() < 0.3:
        words.append(f"model {rng.randint(1, 999)}")
    title = " ".join(words)
    title = title[0].upper() + title[1:]
    extra = rng.choice(_NOUNS[rng.choice(list(_NOUNS))])
    description = " ".join(
        [
            f"A {rng.choice(_ADJECTIVES)} {noun} in {rng.choice(_COLOURS)}.",
            *rng.sample(_PHRASES, 2),
            f"Pairs nicely with a {extra}.",
        ]
    )
    return title, description


def _auction(
    rng: random.Random, i: int, now: datetime, item_id: uuid.UUID, seller: uuid.UUID
) -> dict[str, Any]:
    kind = rng.choices(list(AuctionType), weights=(55, 15, 15, 15))[0]
    status = rng.choices(
        [
            AuctionStatus.ACTIVE,
            AuctionStatus.SCHEDULED,
            AuctionStatus.ENDED,
            AuctionStatus.CANCELLED,
        ],
        weights=(60, 15, 15, 10),
    )[0]
    currency, exponent = rng.choice(_CURRENCIES)
    unit = 10**exponent
    start = rng.randint(1, 2000) * unit
    created = now - timedelta(days=rng.uniform(1, 30))
    row: dict[str, Any] = {
        "id": corpus_id("auction", i),
        "item_id": item_id,
        "seller_id": seller,
        "type": kind.value,
        "status": status.value,
        "outcome": None,
        "currency": currency,
        "starting_price": start,
        "reserve_price": start * rng.randint(2, 4) if rng.random() < 0.3 else None,
        "buy_now_price": start * 5 if kind is AuctionType.ENGLISH and rng.random() < 0.3 else None,
        "starts_at": None,
        "ends_at": now + timedelta(seconds=rng.randint(60, 14 * 86400)),
        "dutch_step": None,
        "dutch_step_seconds": None,
        "dutch_floor": None,
        "current_price": None,
        "leader_id": None,
        "bid_count": 0,
        "last_sequence": 0,
        "winner_id": None,
        "final_price": None,
        "featured": rng.random() < 0.05,
        "published_at": created + timedelta(minutes=rng.randint(1, 600)),
        "activated_at": None,
        "ended_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "created_at": created,
        "updated_at": created,
    }
    if kind is AuctionType.DUTCH:
        row["dutch_step"] = max(1, start // 100)
        row["dutch_step_seconds"] = 3600
        row["dutch_floor"] = start // 4
    if status is AuctionStatus.SCHEDULED:
        row["starts_at"] = now + timedelta(hours=rng.randint(1, 48))
        row["ends_at"] = row["starts_at"] + timedelta(days=rng.randint(1, 7))
        return row
    row["activated_at"] = row["published_at"]
    if kind is not AuctionType.DUTCH and rng.random() < 0.7:
        bids = rng.randint(1, 40)
        row["bid_count"] = bids
        row["last_sequence"] = bids
        row["current_price"] = start + bids * rng.randint(1, 50) * unit
        row["leader_id"] = corpus_id("user", rng.randrange(SELLERS))
    if status is AuctionStatus.ENDED:
        row["ends_at"] = now - timedelta(hours=rng.randint(1, 200))
        row["ended_at"] = row["ends_at"]
        sold = row["bid_count"] > 0 and (
            row["reserve_price"] is None or row["current_price"] >= row["reserve_price"]
        )
        row["outcome"] = "SOLD" if sold else "UNSOLD"
        if sold:
            row["winner_id"] = row["leader_id"]
            row["final_price"] = row["current_price"]
    elif status is AuctionStatus.CANCELLED:
        row["cancelled_at"] = now - timedelta(hours=rng.randint(1, 48))
        row["cancel_reason"] = "withdrawn by the seller"
    return row


def corpus_rows(
    n: int, now: datetime, seed: int = 16
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(users, items, auctions) rows of a corpus of `n` auctions (at least len(KNOWN)),
    the known listings first."""
    rng = random.Random(seed)
    users = [
        User(
            id=corpus_id("user", s),
            username=f"corpus_seller_{s}",
            email=f"corpus_seller_{s}@gavel.test",
            password_hash="!",  # no password logs in
            roles=["BIDDER", "SELLER"],
            created_at=now - timedelta(days=90),
            updated_at=now - timedelta(days=90),
        ).model_dump()
        for s in range(SELLERS)
    ]
    items: list[dict[str, Any]] = []
    auctions: list[dict[str, Any]] = []
    for i in range(n):
        known = KNOWN[i] if i < len(KNOWN) else None
        category = known.category if known else rng.choice(CATEGORIES)
        title, description = (known.title, known.description) if known else _text(rng, category)
        seller = corpus_id("user", rng.randrange(SELLERS))
        item_id = corpus_id("item", i)
        items.append(
            {
                "id": item_id,
                "seller_id": seller,
                "title": title,
                "description": description,
                "category": category,
                "condition": rng.choice(list(ItemCondition)).value,
                "attributes": "{}",
                "created_at": now - timedelta(days=31),
            }
        )
        row = _auction(rng, i, now, item_id, seller)
        if known:
            row.update(
                id=known_auction_id(known.key),
                status=AuctionStatus.ACTIVE.value,
                type=AuctionType.ENGLISH.value,
                outcome=None,
                ended_at=None,
                cancelled_at=None,
                cancel_reason=None,
                winner_id=None,
                final_price=None,
                dutch_step=None,
                dutch_step_seconds=None,
                dutch_floor=None,
                starts_at=None,
                ends_at=now + timedelta(days=3),
            )
        auctions.append(row)
    return users, items, auctions


async def write_corpus(
    engine: AsyncEngine,
    n: int,
    now: datetime,
    *,
    seed: int = 16,
    progress: Callable[[int], None] | None = None,
) -> list[uuid.UUID]:
    """Insert a corpus of `n` auctions with COPY (one transaction); returns the auction
    ids. `progress` is called with the auctions just written (a tqdm bar's update)."""
    users, items, auctions = corpus_rows(n, now, seed)
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        copy = raw.driver_connection
        assert copy is not None
        await conn.execute(insert(User.__table__).values(users))  # type: ignore[attr-defined]
        for start in range(0, n, ROWS_PER_COPY):
            part_items = items[start : start + ROWS_PER_COPY]
            part = auctions[start : start + ROWS_PER_COPY]
            await copy.copy_records_to_table(
                "items", records=[tuple(r.values()) for r in part_items], columns=list(items[0])
            )
            await copy.copy_records_to_table(
                "auctions", records=[tuple(r.values()) for r in part], columns=list(auctions[0])
            )
            if progress is not None:
                progress(len(part))
    return [a["id"] for a in auctions]
