"""`searchAuctions`: the API's arguments as a validated `SearchRequest`, and stable
cursor pages over a snapshot of the ordered results (docs/search.md "Paging").

The first page (no `after`) asks the index for up to `MAX_RESULTS` ordered ids, the
total and the facets, and, when there is a next page, keeps them in Redis for
`search_snapshot_seconds` under a random id with a hash of the arguments (about 21 KB
a search). A cursor is that id and a position: later pages
read the snapshot, so bids that move sort keys meanwhile cause no duplicate and no gap;
the nodes themselves are loaded live. Results past `MAX_RESULTS` cannot be paged to
(as Meilisearch's maxTotalHits); `total` still counts them.

Errors (ValidationFailed, field in parentheses): QUERY_TOO_LONG (query), NOT_SEARCHABLE
(statuses: DRAFT), UNKNOWN_CATEGORY (category), INVALID_AMOUNT (minPrice/maxPrice),
INVALID_INPUT (endingWithinSeconds), INVALID_PAGE_SIZE (first), INVALID_CURSOR (after:
malformed, forged, expired, or given with other arguments). No index: NotAvailableYet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson

from domain.categories import subtree
from domain.enums import AuctionSort, AuctionStatus
from domain.errors import NotAvailableYet, ValidationFailed
from services import catalog
from services.deps import Deps
from services.paging import INT64, MAX_CURSOR_LENGTH, check_first
from services.search.port import (
    DEFAULT_STATUSES,
    MAX_RESULTS,
    Facets,
    SearchFilter,
    SearchRequest,
    scaled_bound,
)
from storage.tables import Auction

MAX_QUERY_LENGTH = 200  # characters of `query`
SNAPSHOT_KEY = "search:snapshot:"


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class FacetLists:
    """Facets as the API lists them: by count, most first, then by value."""

    category: list[FacetCount]
    type: list[FacetCount]
    condition: list[FacetCount]


@dataclass(frozen=True, slots=True)
class SearchPage:
    rows: list[Auction]  # live rows, in the snapshot's order
    cursors: list[str]
    has_next: bool
    total: int
    facets: FacetLists


def search_filter(f: catalog.AuctionFilter, now: Any) -> SearchFilter:
    """The API's filter as the port's, validated with browse's rules (`catalog
    .check_filter`) plus search's own: DRAFT is never searchable."""
    catalog.check_filter(f)
    statuses = tuple(dict.fromkeys(f.statuses)) if f.statuses else DEFAULT_STATUSES
    if AuctionStatus.DRAFT in statuses:
        raise ValidationFailed(
            "drafts are never searchable; list SCHEDULED, ACTIVE, ENDED or CANCELLED",
            code="NOT_SEARCHABLE",
            field="statuses",
        )
    ends_from = ends_until = None
    if f.ending_within_seconds is not None:
        seconds = min(f.ending_within_seconds, catalog.MAX_ENDING_WITHIN_SECONDS)
        ends_from, ends_until = now, now + timedelta(seconds=seconds)
    return SearchFilter(
        statuses=statuses,
        categories=subtree(f.category) if f.category else None,
        types=tuple(f.types) if f.types else None,
        conditions=tuple(f.conditions) if f.conditions else None,
        min_price_scaled=_bound(f.min_price, upper=False),
        max_price_scaled=_bound(f.max_price, upper=True),
        seller_id=f.seller_id,
        ends_from=ends_from,
        ends_until=ends_until,
        has_buy_now=f.has_buy_now,
        reserve_met=f.reserve_met,
    )


def _bound(major: Decimal | None, *, upper: bool) -> int | None:
    """A price bound as `price_scaled`, kept within BIGINT: a bound above every price
    stays above every price."""
    if major is None:
        return None
    return min(scaled_bound(major, upper=upper), INT64[1])


def check_query(query: str | None) -> str | None:
    if query is not None and len(query) > MAX_QUERY_LENGTH:
        raise ValidationFailed(
            f"query must be at most {MAX_QUERY_LENGTH} characters",
            code="QUERY_TOO_LONG",
            field="query",
        )
    return query.strip() or None if query is not None else None


def _arguments_hash(query: str | None, f: catalog.AuctionFilter, sort: AuctionSort) -> str:
    # The dataclass's repr is stable and names every field: a new field changes the hash.
    return hashlib.sha256(repr((query, f, sort.value)).encode()).hexdigest()[:32]


def _cursor(snapshot: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{snapshot}:{position}".encode()).decode().rstrip("=")


def _bad_cursor(message: str = "the cursor is malformed") -> ValidationFailed:
    return ValidationFailed(message, code="INVALID_CURSOR", field="after")


def _read_cursor(cursor: str) -> tuple[str, int]:
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
        snapshot, _, position = raw.decode("ascii").partition(":")
        if len(snapshot) != 32 or not all(c in "0123456789abcdef" for c in snapshot):
            raise ValueError("not a snapshot id")
        if not position.isdigit() or not 0 < int(position) <= MAX_RESULTS:
            raise ValueError("bad position")
        return snapshot, int(position)
    except (ValueError, UnicodeError, binascii.Error):
        raise _bad_cursor() from None


def _pack(ids: list[uuid.UUID]) -> str:
    # 16 bytes an id, base64: about 21 KB for MAX_RESULTS ids (JSON text would be 39 KB).
    return base64.b64encode(b"".join(i.bytes for i in ids)).decode("ascii")


def _unpack(packed: str) -> list[uuid.UUID]:
    raw = base64.b64decode(packed)
    return [uuid.UUID(bytes=raw[n : n + 16]) for n in range(0, len(raw), 16)]


def facet_lists(facets: Facets | None) -> FacetLists:
    def listed(counts: Mapping[str, int]) -> list[FacetCount]:
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [FacetCount(value=v, count=n) for v, n in ordered if n > 0]

    if facets is None:
        return FacetLists(category=[], type=[], condition=[])
    return FacetLists(
        category=listed(facets.category),
        type=listed(facets.type),
        condition=listed(facets.condition),
    )


def _facets_json(facets: Facets | None) -> dict[str, dict[str, int]] | None:
    if facets is None:
        return None
    return {
        "category": dict(facets.category),
        "type": dict(facets.type),
        "condition": dict(facets.condition),
    }


async def search_auctions(
    deps: Deps,
    query: str | None,
    f: catalog.AuctionFilter,
    sort: AuctionSort,
    first: int | None,
    after: str | None,
    max_page: int,
    ip: str | None = None,
) -> SearchPage:
    """One page of search results (see the module docstring for shapes and errors).
    A first page (no `after`) from client address `ip` is rate limited (RATE_LIMITED,
    services/limits.py) once its arguments are known to be valid."""
    if deps.search is None:
        raise NotAvailableYet("searchAuctions")
    text = check_query(query)
    size = check_first(first, max_page)
    arguments = _arguments_hash(text, f, sort)
    redis = deps.slots.redis
    if after:
        snapshot, offset = _read_cursor(after)
        stored = await redis.get(SNAPSHOT_KEY + snapshot)
        if stored is None:
            raise _bad_cursor("the search has expired; search again without `after`")
        saved = orjson.loads(stored)
        if saved["h"] != arguments:
            raise _bad_cursor("the cursor belongs to a search with other arguments")
        ids = _unpack(saved["ids"])
        total = int(saved["total"])
        raw_facets = saved["facets"]
        facets = Facets(**raw_facets) if raw_facets is not None else None
    else:
        request = SearchRequest(
            text=text,
            filter=search_filter(f, deps.clock()),
            sort=sort,
            limit=MAX_RESULTS,
            facets=True,
        )
        await deps.throttle.search(ip)
        answer = await deps.search.search(request)
        ids, total, facets, offset = answer.ids, answer.total, answer.facets, 0
        snapshot = secrets.token_hex(16)
        if len(ids) > size:  # only a search with a next page needs its snapshot
            value = {
                "h": arguments,
                "ids": _pack(ids),
                "total": total,
                "facets": _facets_json(facets),
            }
            await redis.set(
                SNAPSHOT_KEY + snapshot, orjson.dumps(value), ex=deps.search_snapshot_seconds
            )
    shown = ids[offset : offset + size]
    rows = await catalog.auctions_by_id(deps, shown)
    page = [(r, _cursor(snapshot, offset + n + 1)) for n, r in enumerate(rows) if r is not None]
    return SearchPage(
        rows=[r for r, _ in page],
        cursors=[c for _, c in page],
        has_next=offset + size < len(ids),
        total=total,
        facets=facet_lists(facets),
    )
