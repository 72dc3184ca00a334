"""`SearchDocument`s as Meilisearch holds them, and back.

Shapes: ids as strings (Meilisearch's primary key and string filters), enums as their
string values, moments as integer epoch milliseconds (`ends_at_ms`, `listed_at_ms`:
Meilisearch filters and sorts numbers, not dates), money as integers (`price` in minor
units, `price_scaled` as the port defines it; both far below 2^53, exact in the server's
double-precision numbers). `category_path` lists the category and every ancestor
(["cameras", "cameras/film"]), so one equality filters a whole subtree and the facet
counts each auction under every ancestor, as `Facets.category` wants.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.enums import AuctionStatus, AuctionType, ItemCondition
from services.search.port import SearchDocument

PRIMARY_KEY = "auction_id"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """An aware moment as whole epoch milliseconds, rounded down (exact integer
    arithmetic: no float rounding near the millisecond)."""
    return (moment - _EPOCH) // _MS


def moment_of(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def category_path(category: str) -> list[str]:
    """ "a/b/c" -> ["a", "a/b", "a/b/c"]."""
    parts = category.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def body_of(document: SearchDocument) -> dict[str, Any]:
    """The JSON object Meilisearch stores for `document`."""
    return {
        PRIMARY_KEY: str(document.auction_id),
        "title": document.title,
        "description": document.description,
        "category": document.category,
        "category_path": category_path(document.category),
        "condition": document.condition.value,
        "type": document.type.value,
        "status": document.status.value,
        "seller_id": str(document.seller_id),
        "currency": document.currency,
        "price": document.price,
        "price_scaled": document.price_scaled,
        "bid_count": document.bid_count,
        "reserve_met": document.reserve_met,
        "has_buy_now": document.has_buy_now,
        "featured": document.featured,
        "ends_at_ms": epoch_ms(document.ends_at),
        "listed_at_ms": epoch_ms(document.listed_at),
    }


def document_of_body(body: dict[str, Any]) -> SearchDocument:
    """The document back from what Meilisearch returns (moments to the millisecond)."""
    return SearchDocument(
        auction_id=uuid.UUID(body[PRIMARY_KEY]),
        title=body["title"],
        description=body["description"],
        category=body["category"],
        condition=ItemCondition(body["condition"]),
        type=AuctionType(body["type"]),
        status=AuctionStatus(body["status"]),
        seller_id=uuid.UUID(body["seller_id"]),
        currency=body["currency"],
        price=int(body["price"]),
        price_scaled=int(body["price_scaled"]),
        bid_count=int(body["bid_count"]),
        reserve_met=bool(body["reserve_met"]),
        has_buy_now=bool(body["has_buy_now"]),
        featured=bool(body["featured"]),
        ends_at=moment_of(int(body["ends_at_ms"])),
        listed_at=moment_of(int(body["listed_at_ms"])),
    )
