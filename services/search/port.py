"""The search index port: what searching needs from an index, whichever engine holds it.

Two adapters implement `SearchIndex` and pass one contract test suite
(tests/search_contract/): the embedded default on PostgreSQL (full-text tsvector plus
pg_trgm, adapters/search/postgres.py) and Meilisearch (adapters/search/meilisearch.py,
when `MEILI_URL` is set). The composition root picks one.

The index holds one `SearchDocument` per non-draft auction, built from the source of
record by services/search/documents.py. It is a copy that follows PostgreSQL within a
second (services/search/indexer.py); nothing reads prices or states from it but search.

Shapes and units:
- money in a document is integer minor units of its `currency`; for filtering and sorting
  across currencies every document also carries `price_scaled`, its shown price in units
  of 10^-PRICE_SCALE of a major unit (an integer, never a float).
- moments are aware UTC datetimes.
- a search answers at most `MAX_RESULTS` ordered ids (as Meilisearch's default
  `maxTotalHits` does); `total` still counts every match.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from domain.enums import AuctionSort, AuctionStatus, AuctionType, ItemCondition

PRICE_SCALE = 4  # price_scaled = major units * 10^4: exact for exponents 0-3
MAX_RESULTS = 1000
SEARCHABLE_STATUSES = (
    AuctionStatus.SCHEDULED,
    AuctionStatus.ACTIVE,
    AuctionStatus.ENDED,
    AuctionStatus.CANCELLED,
)
DEFAULT_STATUSES = (AuctionStatus.SCHEDULED, AuctionStatus.ACTIVE)


def scaled_price(minor: int, exponent: int) -> int:
    """Minor units of a currency with `exponent` as units of 10^-PRICE_SCALE major."""
    return minor * int(10 ** (PRICE_SCALE - exponent))


def scaled_bound(major: Decimal, *, upper: bool) -> int:
    """A price filter bound (major units) as a `price_scaled` integer. A bound finer than
    the scale is rounded outwards, so no price the user asked for is left out."""
    scaled = major.scaleb(PRICE_SCALE)
    whole = int(scaled)  # truncates toward zero; bounds are never negative
    return whole if upper or whole == scaled else whole + 1


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """One auction as the index holds it. Never carries a hidden amount: `price_scaled`
    of an open sealed auction is its public starting price (docs/search.md)."""

    auction_id: uuid.UUID
    title: str
    description: str
    category: str  # slash path, e.g. "cameras/film"
    condition: ItemCondition
    type: AuctionType
    status: AuctionStatus  # never DRAFT
    seller_id: uuid.UUID
    currency: str
    price: int  # minor units: the shown current price, else the starting price
    price_scaled: int  # `price` in 10^-PRICE_SCALE major units (see module docstring)
    bid_count: int
    reserve_met: bool  # as the API shows it (sealed: only a SOLD end reveals it)
    has_buy_now: bool
    featured: bool
    ends_at: datetime  # with soft-close extensions
    listed_at: datetime  # published_at, else created_at: NEWLY_LISTED sorts on it


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """A validated filter (services/search/query.py builds it from the API's input).
    None means "any"; an empty tuple matches nothing."""

    statuses: tuple[AuctionStatus, ...] = DEFAULT_STATUSES  # never DRAFT
    categories: tuple[str, ...] | None = None  # a category's whole subtree, expanded
    types: tuple[AuctionType, ...] | None = None
    conditions: tuple[ItemCondition, ...] | None = None
    min_price_scaled: int | None = None  # inclusive
    max_price_scaled: int | None = None  # inclusive
    seller_id: uuid.UUID | None = None
    ends_from: datetime | None = None  # inclusive; "ending within N s" sets both ends
    ends_until: datetime | None = None  # inclusive
    has_buy_now: bool | None = None
    reserve_met: bool | None = None
    auction_ids: tuple[uuid.UUID, ...] | None = None  # only these (saved-search matching)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """`text`: the user's words (None or blank: match everything, ranked by the sort;
    RELEVANCE then falls back to NEWLY_LISTED). `limit`: 1..MAX_RESULTS ids wanted.
    `facets`: also count per category, type and condition, each facet under every
    filter but its own."""

    text: str | None
    filter: SearchFilter
    sort: AuctionSort = AuctionSort.RELEVANCE
    limit: int = 20
    facets: bool = False


@dataclass(frozen=True, slots=True)
class Facets:
    """Counts of matching auctions per value. `category` counts each document under its
    own category and under every ancestor ("cameras" includes "cameras/film")."""

    category: Mapping[str, int] = field(default_factory=dict)
    type: Mapping[str, int] = field(default_factory=dict)
    condition: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchAnswer:
    """The ordered ids (best first; ties broken by auction id ascending), how many match
    in all, and the facets when asked for."""

    ids: list[uuid.UUID]
    total: int
    facets: Facets | None = None


Progress = Callable[[int], None]  # called with how many documents were just written


class SearchIndex(Protocol):
    """An index of `SearchDocument`s. Every method may raise `services.unavailable
    .Unavailable` when the engine is down; none raises for a client's input (the request
    is validated before it gets here)."""

    name: str  # "postgres" or "meilisearch", shown in health and logs

    async def prepare(self) -> None:
        """Create the index if missing and apply its settings (idempotent; at startup)."""

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        """Add or replace documents by `auction_id`; visible to searches on return."""

    async def delete(self, auction_ids: Sequence[uuid.UUID]) -> None:
        """Remove documents (unknown ids are ignored); visible to searches on return."""

    async def search(self, request: SearchRequest) -> SearchAnswer: ...

    async def rebuild(
        self, batches: AsyncIterator[Sequence[SearchDocument]], progress: Progress
    ) -> int:
        """Build a whole new index beside the live one from `batches`, then swap it in
        atomically; searches keep answering from the old one until the swap. Returns the
        documents written. Changes upserted meanwhile go to the live index only: the
        caller re-applies what changed since it started reading (services/search
        /reindex.py)."""

    async def count(self) -> int:
        """Documents in the live index."""

    async def close(self) -> None: ...
