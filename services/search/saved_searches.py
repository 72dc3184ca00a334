"""Saved searches (SPEC section 2, issue 16 item 6): a viewer saves a query plus filter,
lists and deletes them; services/search/saved_search_matcher.py tells the owner once about
each listing published afterwards that matches.

The filter is stored as the API took it (`SavedFilter.to_json`: the API filter's field
names, prices as decimal strings in major units) and turned into the index's
`SearchFilter` when matching, by the same rules as the search's and browse's filters
(`search_filter`): a category's whole subtree, price bounds on the shown price,
"ending within" counted from the moment of matching.

Errors (all `ValidationFailed` unless said): INVALID_INPUT (name blank or over 100
characters, query over 200, control characters, DRAFT among the statuses, a negative
endingWithinSeconds), UNKNOWN_CATEGORY, INVALID_AMOUNT (a negative or non-finite price
bound), LIMIT_REACHED (the user has `limit` saved searches, GAVEL_SAVED_SEARCH_LIMIT),
NOT_FOUND (deleting a search that is not the viewer's: whether it exists is not told).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select

from domain.categories import check_category, subtree
from domain.enums import AuctionStatus, AuctionType, ItemCondition
from domain.errors import NotFound, ValidationFailed
from domain.text import check_text
from services.deps import Deps
from services.search.port import SearchFilter, scaled_bound
from storage.tables import SavedSearch, User

NAME_CHARS = 100
QUERY_CHARS = 200
_LONGEST_WINDOW = 10 * 365 * 86400  # as browse: "ending within" beyond ten years is all


@dataclass(frozen=True, slots=True)
class SavedFilter:
    """The filter of a saved search, as the API's `AuctionFilter` gives it. Empty lists
    mean "any" (as browse reads them)."""

    category: str | None = None
    types: tuple[AuctionType, ...] | None = None
    statuses: tuple[AuctionStatus, ...] | None = None
    conditions: tuple[ItemCondition, ...] | None = None
    min_price: Decimal | None = None  # major units of the auction's currency
    max_price: Decimal | None = None
    seller_id: uuid.UUID | None = None
    ending_within_seconds: int | None = None
    has_buy_now: bool | None = None
    reserve_met: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form: only the fields given, under the API's names."""
        data: dict[str, Any] = {
            "category": self.category,
            "types": [t.value for t in self.types] if self.types else None,
            "statuses": [s.value for s in self.statuses] if self.statuses else None,
            "conditions": [c.value for c in self.conditions] if self.conditions else None,
            "minPrice": str(self.min_price) if self.min_price is not None else None,
            "maxPrice": str(self.max_price) if self.max_price is not None else None,
            "sellerId": str(self.seller_id) if self.seller_id else None,
            "endingWithinSeconds": self.ending_within_seconds,
            "hasBuyNow": self.has_buy_now,
            "reserveMet": self.reserve_met,
        }
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedFilter:
        def decimal(name: str) -> Decimal | None:
            value = data.get(name)
            try:
                return Decimal(value) if value is not None else None
            except InvalidOperation:
                raise ValidationFailed(f"stored {name} is not a number", field=name) from None

        seller = data.get("sellerId")
        return cls(
            category=data.get("category"),
            types=tuple(AuctionType(t) for t in data["types"]) if data.get("types") else None,
            statuses=tuple(AuctionStatus(s) for s in data["statuses"])
            if data.get("statuses")
            else None,
            conditions=tuple(ItemCondition(c) for c in data["conditions"])
            if data.get("conditions")
            else None,
            min_price=decimal("minPrice"),
            max_price=decimal("maxPrice"),
            seller_id=uuid.UUID(seller) if seller else None,
            ending_within_seconds=data.get("endingWithinSeconds"),
            has_buy_now=data.get("hasBuyNow"),
            reserve_met=data.get("reserveMet"),
        )


def search_filter(
    f: SavedFilter, now: datetime, auction_ids: Sequence[uuid.UUID] | None = None
) -> SearchFilter:
    """The index's filter for `f` as of `now`, only among `auction_ids` when given.
    Raises ValidationFailed as the module's docstring lists."""
    statuses = f.statuses or None
    if statuses and AuctionStatus.DRAFT in statuses:
        raise ValidationFailed("drafts are never searchable", field="statuses")
    for bound, name in ((f.min_price, "minPrice"), (f.max_price, "maxPrice")):
        if bound is not None and (not bound.is_finite() or bound < 0):
            raise ValidationFailed(
                f"{name} must be a non-negative amount", code="INVALID_AMOUNT", field=name
            )
    ends_from = ends_until = None
    if f.ending_within_seconds is not None:
        if f.ending_within_seconds < 0:
            raise ValidationFailed(
                "endingWithinSeconds must not be negative", field="endingWithinSeconds"
            )
        ends_from = now
        ends_until = now + timedelta(seconds=min(f.ending_within_seconds, _LONGEST_WINDOW))
    base = SearchFilter()
    return SearchFilter(
        statuses=tuple(dict.fromkeys(statuses)) if statuses else base.statuses,
        categories=subtree(f.category) if f.category else None,
        types=tuple(dict.fromkeys(f.types)) if f.types else None,
        conditions=tuple(dict.fromkeys(f.conditions)) if f.conditions else None,
        min_price_scaled=scaled_bound(f.min_price, upper=False)
        if f.min_price is not None
        else None,
        max_price_scaled=scaled_bound(f.max_price, upper=True) if f.max_price is not None else None,
        seller_id=f.seller_id,
        ends_from=ends_from,
        ends_until=ends_until,
        has_buy_now=f.has_buy_now,
        reserve_met=f.reserve_met,
        auction_ids=tuple(auction_ids) if auction_ids is not None else None,
    )


def _clean(name: str, query: str | None) -> tuple[str, str | None]:
    name = check_text(name.strip(), "name")
    if not name or len(name) > NAME_CHARS:
        raise ValidationFailed(f"name must be 1 to {NAME_CHARS} characters", field="name")
    text = check_text(query.strip(), "query") if query is not None else None
    if text is not None and len(text) > QUERY_CHARS:
        raise ValidationFailed(f"query must be at most {QUERY_CHARS} characters", field="query")
    return name, text or None


async def save_search(
    deps: Deps, user: User, name: str, query: str | None, f: SavedFilter, *, limit: int
) -> SavedSearch:
    """Store a saved search of `user`; returns its row. Nothing is stored on an error."""
    name, text = _clean(name, query)
    if f.category:
        f = replace(f, category=check_category(f.category))  # stored as its slug
    search_filter(f, deps.clock())  # the same checks as matching will apply
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
            user_id=user.id, name=name, query=text, filter=f.to_json(), created_at=deps.clock()
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
