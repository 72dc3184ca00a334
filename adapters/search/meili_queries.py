"""Meilisearch search bodies from a `SearchRequest`: filters, sorts and the facet plan.

Filters are Meilisearch filter expressions, one per constraint, sent as an array (the
server ANDs its elements). Every string value is double-quoted with `\\` and `"` escaped
(the server's rule since v1.4: the filter parser un-escapes `\\"` then `\\\\`), so no value
can close its quotes and add an expression of its own. Numbers are formatted from ints.

An empty tuple in the filter matches nothing: such a query is never sent; it answers no
ids, a total of 0 and empty facet counts (see `FacetPlan`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from adapters.search.meili_documents import PRIMARY_KEY, epoch_ms
from adapters.search.meili_stop_words import STOP_WORDS
from domain.enums import AuctionSort, AuctionType, ItemCondition
from services.search.port import Facets, SearchAnswer, SearchFilter, SearchRequest
from services.search.words import normalised, spans_of

# Meilisearch ignores query words after the 10th; the PostgreSQL backend does the same.
MAX_QUERY_WORDS = 10
_TIE = f"{PRIMARY_KEY}:asc"
SORTS: dict[AuctionSort, list[str]] = {
    AuctionSort.ENDING_SOON: ["ends_at_ms:asc", _TIE],
    AuctionSort.NEWLY_LISTED: ["listed_at_ms:desc", _TIE],
    AuctionSort.PRICE_ASC: ["price_scaled:asc", _TIE],
    AuctionSort.PRICE_DESC: ["price_scaled:desc", _TIE],
    AuctionSort.MOST_BIDS: ["bid_count:desc", _TIE],
}


class Facet(StrEnum):
    """A facet of `Facets`, by the document attribute that counts it."""

    CATEGORY = "category_path"
    TYPE = "type"
    CONDITION = "condition"


def quoted(value: str) -> str:
    """`value` as a double-quoted filter string that means exactly `value`."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _one_of(attribute: str, values: Iterable[object]) -> str:
    return f"{attribute} IN [{', '.join(quoted(str(v)) for v in values)}]"


def _boolean(attribute: str, value: bool) -> str:
    return f"{attribute} = {'true' if value else 'false'}"


def ids_clause(auction_ids: Iterable[uuid.UUID]) -> str:
    """The filter that matches these auctions (deleting by filter: the client's delete by
    ids is deprecated)."""
    return _one_of(PRIMARY_KEY, auction_ids)


def filter_clauses(
    search_filter: SearchFilter, *, without: Facet | None = None
) -> list[str] | None:
    """The filter as Meilisearch expressions (ANDed), leaving out the constraint of the
    facet `without`; None when no document can match (an empty tuple)."""
    f = search_filter
    clauses: list[str] = []
    lists: list[tuple[str, Sequence[object] | None, Facet | None]] = [
        ("status", tuple(s.value for s in f.statuses), None),
        (Facet.CATEGORY.value, f.categories, Facet.CATEGORY),
        (Facet.TYPE.value, None if f.types is None else [t.value for t in f.types], Facet.TYPE),
        (
            Facet.CONDITION.value,
            None if f.conditions is None else [c.value for c in f.conditions],
            Facet.CONDITION,
        ),
        (PRIMARY_KEY, f.auction_ids, None),
    ]
    for attribute, values, facet in lists:
        if values is None or (facet is not None and facet is without):
            continue
        if not values:
            return None
        clauses.append(_one_of(attribute, values))
    if f.min_price_scaled is not None:
        clauses.append(f"price_scaled >= {int(f.min_price_scaled)}")
    if f.max_price_scaled is not None:
        clauses.append(f"price_scaled <= {int(f.max_price_scaled)}")
    if f.seller_id is not None:
        clauses.append(f"seller_id = {quoted(str(f.seller_id))}")
    # Documents keep moments to the millisecond, rounded down: bounds rounded down too
    # leave out no auction the bounds include (sub-millisecond ties may come in).
    if f.ends_from is not None:
        clauses.append(f"ends_at_ms >= {epoch_ms(f.ends_from)}")
    if f.ends_until is not None:
        clauses.append(f"ends_at_ms <= {epoch_ms(f.ends_until)}")
    if f.has_buy_now is not None:
        clauses.append(_boolean("has_buy_now", f.has_buy_now))
    if f.reserve_met is not None:
        clauses.append(_boolean("reserve_met", f.reserve_met))
    return clauses


def sort_of(request: SearchRequest) -> list[str] | None:
    """Meilisearch's `sort`; None: rank by relevance (the index's ranking rules). RELEVANCE
    without words falls back to NEWLY_LISTED (services/search/port.py)."""
    if request.sort is AuctionSort.RELEVANCE:
        return None if _words(request) else list(SORTS[AuctionSort.NEWLY_LISTED])
    return list(SORTS[request.sort])


def _words(request: SearchRequest) -> str:
    """The query's words (runs of letters and digits, the first MAX_QUERY_WORDS), less
    stop words, joined by spaces, as the PostgreSQL backend reads a query. Meilisearch
    reads `"..."` as a phrase and `-word` as "without word", which the API does not
    offer: only words reach it, as typed (services/search/words.py `spans_of`: split,
    never casefolded), so Meilisearch normalises them as it normalises the documents
    (our casefold would turn a title's "Straße" into a "strasse" it does not hold).
    A stop word left in would have to match (or be corrected into a neighbour: "other"
    into "otter") where PostgreSQL ignores it."""
    words = spans_of(request.text or "")[:MAX_QUERY_WORDS]
    return " ".join(w for w in words if normalised(w) not in STOP_WORDS)


def _own_filter(search_filter: SearchFilter, facet: Facet) -> object:
    return {
        Facet.CATEGORY: search_filter.categories,
        Facet.TYPE: search_filter.types,
        Facet.CONDITION: search_filter.conditions,
    }[facet]


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    """One search of a multi-search. `body` is None when it cannot match anything (not
    sent); `facets` are the facets whose counts this query gives."""

    body: dict[str, Any] | None
    facets: tuple[Facet, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class FacetPlan:
    """The main query (ids and total) first, then one query per facet whose own filter
    is set (counted without it). A facet with no filter of its own is counted by the main
    query itself: its counts under every filter but its own are the main query's."""

    main: PlannedQuery
    per_facet: tuple[PlannedQuery, ...]

    @property
    def queries(self) -> list[PlannedQuery]:
        return [self.main, *self.per_facet]


def plan(index_uid: str, request: SearchRequest) -> FacetPlan:
    """The queries that answer `request` in one multi-search call."""
    words = _words(request)
    sort = sort_of(request)

    def body(
        clauses: list[str] | None, *, hits: int, facets: Sequence[Facet]
    ) -> dict[str, Any] | None:
        if clauses is None:
            return None
        out: dict[str, Any] = {
            "indexUid": index_uid,
            "q": words,
            # Every word must match (with its typos), as on PostgreSQL.
            "matchingStrategy": "all",
            "filter": clauses,
            # page/hitsPerPage, not offset/limit: the total is then exact, not estimated.
            "page": 1,
            "hitsPerPage": hits,
            "attributesToRetrieve": [PRIMARY_KEY],
        }
        if sort is not None and hits:
            out["sort"] = sort
        if facets:
            out["facets"] = [f.value for f in facets]
        return out

    free = [f for f in Facet if _own_filter(request.filter, f) is None] if request.facets else []
    main = PlannedQuery(
        body(filter_clauses(request.filter), hits=request.limit, facets=free), tuple(free)
    )
    per_facet = tuple(
        PlannedQuery(
            body(filter_clauses(request.filter, without=facet), hits=0, facets=[facet]),
            (facet,),
        )
        for facet in Facet
        if request.facets and facet not in free
    )
    return FacetPlan(main=main, per_facet=per_facet)


_CASED = {
    Facet.TYPE: {t.value.lower(): t.value for t in AuctionType},
    Facet.CONDITION: {c.value.lower(): c.value for c in ItemCondition},
}


def _canonical(facet: Facet, value: str) -> str:
    """A facet value as the API names it: Meilisearch compares facet strings without
    case, and a server may answer them in another case than the documents hold."""
    known = _CASED.get(facet)
    return known.get(value.lower(), value) if known else value


def answer_of(
    request: SearchRequest, search_plan: FacetPlan, results: Sequence[Mapping[str, Any]]
) -> SearchAnswer:
    """The port's answer from the multi-search `results`, one per query of
    `search_plan.queries` that has a body, in that order."""
    sent = iter(results)
    answers = [next(sent) if q.body is not None else None for q in search_plan.queries]
    main = answers[0]
    ids = [] if main is None else [uuid.UUID(hit[PRIMARY_KEY]) for hit in main["hits"]]
    total = 0 if main is None else int(main["totalHits"])
    if not request.facets:
        return SearchAnswer(ids=ids, total=total)
    counts: dict[Facet, dict[str, int]] = {facet: {} for facet in Facet}
    for query, result in zip(search_plan.queries, answers, strict=True):
        distribution = (result or {}).get("facetDistribution") or {}
        for facet in query.facets:
            counts[facet] = {
                _canonical(facet, str(k)): int(v)
                for k, v in distribution.get(facet.value, {}).items()
            }
    return SearchAnswer(
        ids=ids,
        total=total,
        facets=Facets(
            category=counts[Facet.CATEGORY],
            type=counts[Facet.TYPE],
            condition=counts[Facet.CONDITION],
        ),
    )
