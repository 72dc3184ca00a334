"""Saved searches' GraphQL types (services/search/saved_searches.py; docs/search.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from schema.enums import AuctionStatus, AuctionType, ItemCondition
from schema.errors import UserError
from schema.inputs import AuctionFilter
from services.catalog import AuctionFilter as StoredFilter
from services.search.saved_searches import filter_from_json
from storage.tables import SavedSearch as SavedSearchRow


@strawberry.type(description="A saved search's filter, as it was given (AuctionFilter's fields).")
class SavedSearchFilter:
    category: str | None = None
    types: list[AuctionType] | None = None
    statuses: list[AuctionStatus] | None = None
    conditions: list[ItemCondition] | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    seller_id: strawberry.ID | None = None
    ending_within_seconds: int | None = None
    has_buy_now: bool | None = None
    reserve_met: bool | None = None

    @classmethod
    def of(cls, f: StoredFilter) -> SavedSearchFilter:
        return cls(
            category=f.category,
            types=list(f.types) if f.types else None,
            statuses=list(f.statuses) if f.statuses else None,
            conditions=list(f.conditions) if f.conditions else None,
            min_price=f.min_price,
            max_price=f.max_price,
            seller_id=strawberry.ID(str(f.seller_id)) if f.seller_id else None,
            ending_within_seconds=f.ending_within_seconds,
            has_buy_now=f.has_buy_now,
            reserve_met=f.reserve_met,
        )


@strawberry.type(
    description="A query plus filter the viewer saved; each listing published afterwards "
    "that matches it brings one SAVED_SEARCH_MATCH notification."
)
class SavedSearch:
    id: strawberry.ID
    name: str
    query: str | None
    filter: SavedSearchFilter
    created_at: datetime

    @classmethod
    def of(cls, row: SavedSearchRow) -> SavedSearch:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            query=row.query,
            filter=SavedSearchFilter.of(filter_from_json(row.filter)),
            created_at=row.created_at,
        )


@strawberry.input
class SaveSearchInput:
    name: str = strawberry.field(description="1 to 100 characters, one line.")
    query: str | None = strawberry.field(
        default=None, description="The words, as searchAuctions takes them; at most 200."
    )
    filter: AuctionFilter | None = strawberry.field(
        default=None, description="Validated as searchAuctions's filter."
    )


@strawberry.type
class SaveSearchPayload:
    saved_search: SavedSearch | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> SaveSearchPayload:
        return cls(errors=[error])
