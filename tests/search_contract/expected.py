"""The reference model the contract suite checks an index against: filters, sorts and
facets computed in Python over the corpus's documents (services/search/port.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from domain.enums import AuctionSort
from services.search.port import Facets, SearchDocument, SearchFilter


def matches(d: SearchDocument, f: SearchFilter, *, but: str | None = None) -> bool:
    checks = [
        d.status in f.statuses,
        but == "category" or f.categories is None or d.category in f.categories,
        but == "type" or f.types is None or d.type in f.types,
        but == "condition" or f.conditions is None or d.condition in f.conditions,
        f.min_price_scaled is None or d.price_scaled >= f.min_price_scaled,
        f.max_price_scaled is None or d.price_scaled <= f.max_price_scaled,
        f.seller_id is None or d.seller_id == f.seller_id,
        f.ends_from is None or d.ends_at >= f.ends_from,
        f.ends_until is None or d.ends_at <= f.ends_until,
        f.has_buy_now is None or d.has_buy_now == f.has_buy_now,
        f.reserve_met is None or d.reserve_met == f.reserve_met,
        f.auction_ids is None or d.auction_id in f.auction_ids,
    ]
    return all(checks)


def filtered(documents: Iterable[SearchDocument], f: SearchFilter) -> list[SearchDocument]:
    return [d for d in documents if matches(d, f)]


def sort_key(sort: AuctionSort) -> Any:
    """The order of a sort without text; ties by auction id ascending."""
    keys = {
        AuctionSort.ENDING_SOON: lambda d: (d.ends_at.timestamp(), d.auction_id),
        AuctionSort.NEWLY_LISTED: lambda d: (-d.listed_at.timestamp(), d.auction_id),
        AuctionSort.RELEVANCE: lambda d: (-d.listed_at.timestamp(), d.auction_id),
        AuctionSort.PRICE_ASC: lambda d: (d.price_scaled, d.auction_id),
        AuctionSort.PRICE_DESC: lambda d: (-d.price_scaled, d.auction_id),
        AuctionSort.MOST_BIDS: lambda d: (-d.bid_count, d.auction_id),
    }
    return keys[sort]


def facets(documents: Iterable[SearchDocument], f: SearchFilter) -> Facets:
    documents = list(documents)
    category: Counter[str] = Counter()
    for d in documents:
        if matches(d, f, but="category"):
            parts = d.category.split("/")
            for depth in range(1, len(parts) + 1):
                category["/".join(parts[:depth])] += 1
    kinds = Counter(d.type.value for d in documents if matches(d, f, but="type"))
    conditions = Counter(d.condition.value for d in documents if matches(d, f, but="condition"))
    return Facets(category=dict(category), type=dict(kinds), condition=dict(conditions))
