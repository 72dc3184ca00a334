"""Saved searches (SPEC section 2, issue 16 item 6): a viewer saves a query plus filter,
lists and deletes them; services/search/saved_search_matcher.py tells the owner once about
each listing published afterwards that matches.

The filter is stored as the API took it (`filter_to_json`: the API filter's field names,
prices as decimal strings in major units) and turned into the index's `SearchFilter`
when matching by searchAuctions's own builder (services/search/query.py): a category's
whole subtree, price bounds on the shown price, "ending within" counted from the moment
of matching. Saving validates with the same builder, so a saved search is refused
exactly when searchAuctions would refuse its query and filter.

Errors (all `ValidationFailed` unless said): searchAuctions's (INVALID_INPUT,
UNKNOWN_CATEGORY, INVALID_AMOUNT, NOT_SEARCHABLE for DRAFT, QUERY_TOO_LONG), INVALID_INPUT
for a name blank, over 100 characters or with control characters, LIMIT_REACHED (the
user has `limit` saved searches, GAVEL_SAVED_SEARCH_LIMIT), NOT_FOUND (deleting a search
that is not the viewer's: whether it exists is not told).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select

from domain.categories import check_category
from domain.enums import AuctionStatus, AuctionType, ItemCondition
from domain.errors import NotFound, ValidationFailed
from domain.text import check_text
from services.catalog import AuctionFilter
from services.deps import Deps
from services.search import query as query_rules
from services.search.port import SearchFilter
from storage.tables import SavedSearch, User

NAME_CHARS = 100


def filter_to_json(f: AuctionFilter) -> dict[str, Any]:
    """The stored form of a filter: only the fields given, under the API's names."""
    data: dict[str, Any] = {
        "category": f.category,
        "types": [t.value for t in f.types] if f.types else None,
        "statuses": [s.value for s in f.statuses] if f.statuses else None,
        "conditions": [c.value for c in f.conditions] if f.conditions else None,
        "minPrice": str(f.min_price) if f.min_price is not None else None,
        "maxPrice": str(f.max_price) if f.max_price is not None else None,
        "sellerId": str(f.seller_id) if f.seller_id else None,
        "endingWithinSeconds": f.ending_within_seconds,
        "hasBuyNow": f.has_buy_now,
        "reserveMet": f.reserve_met,
    }
    return {k: v for k, v in data.items() if v is not None}


def filter_from_json(data: dict[str, Any]) -> AuctionFilter:
    """The filter `filter_to_json` stored. Raises ValueError for a value no longer valid
    (an enum member since removed)."""
    seller = data.get("sellerId")
    return AuctionFilter(
        category=data.get("category"),
        types=[AuctionType(t) for t in data.get("types") or ()] or None,
        statuses=[AuctionStatus(s) for s in data.get("statuses") or ()] or None,
        conditions=[ItemCondition(c) for c in data.get("conditions") or ()] or None,
        min_price=Decimal(data["minPrice"]) if data.get("minPrice") is not None else None,
        max_price=Decimal(data["maxPrice"]) if data.get("maxPrice") is not None else None,
        seller_id=uuid.UUID(seller) if seller else None,
        ending_within_seconds=data.get("endingWithinSeconds"),
        has_buy_now=data.get("hasBuyNow"),
        reserve_met=data.get("reserveMet"),
    )


def matching_filter(
    f: AuctionFilter, now: datetime, auction_ids: Sequence[uuid.UUID]
) -> SearchFilter:
    """The index's filter for a saved search as of `now`, among `auction_ids` only."""
    return replace(query_rules.search_filter(f, now), auction_ids=tuple(auction_ids))


def _clean(name: str, query: str | None) -> tuple[str, str | None]:
    name = check_text(name.strip(), "name")
    if not name or len(name) > NAME_CHARS:
        raise ValidationFailed(f"name must be 1 to {NAME_CHARS} characters", field="name")
    text = query_rules.check_query(query)
    return name, check_text(text, "query") if text is not None else None


async def save_search(
    deps: Deps, user: User, name: str, query: str | None, f: AuctionFilter, *, limit: int
) -> SavedSearch:
    """Store a saved search of `user`; returns its row. Nothing is stored on an error."""
    name, text = _clean(name, query)
    if f.category:
        f = replace(f, category=check_category(f.category))  # stored as its slug
    query_rules.search_filter(f, deps.clock())  # searchAuctions's checks, as matching's
    async with deps.uow() as uow:
        session = uow.session
        # The user's row lock orders concurrent saves: the count below is the count acted on.
        await session.exec(select(User.id).where(col(User.id) == user.id).with_for_update())
        count = (
            await session.exec(
                select(func.count())
                .select_from(SavedSearch)
                .where(col(SavedSearch.user_id) == user.id)
            )
        ).one()
        if count >= limit:
            raise ValidationFailed(
                f"at most {limit} saved searches; delete one first", code="LIMIT_REACHED"
            )
        row = SavedSearch(
            user_id=user.id,
            name=name,
            query=text,
            filter=filter_to_json(f),
            created_at=deps.clock(),
        )
        session.add(row)
        await uow.commit()
    return row


async def saved_searches(deps: Deps, user: User) -> list[SavedSearch]:
    """The user's saved searches, newest first (at most the per-user limit exist)."""
    async with deps.uow() as uow:
        rows = await uow.session.exec(
            select(SavedSearch)
            .where(col(SavedSearch.user_id) == user.id)
            .order_by(col(SavedSearch.created_at).desc(), col(SavedSearch.id).desc())
        )
        return list(rows.all())


async def delete_saved_search(deps: Deps, user: User, saved_search_id: uuid.UUID) -> None:
    """Delete one of the user's saved searches; NOT_FOUND if it is not theirs (or none)."""
    async with deps.uow() as uow:
        result = await uow.session.exec(
            delete(SavedSearch).where(
                col(SavedSearch.id) == saved_search_id, col(SavedSearch.user_id) == user.id
            )
        )
        if result.rowcount != 1:
            raise NotFound("no such saved search", field="id")
        await uow.commit()
