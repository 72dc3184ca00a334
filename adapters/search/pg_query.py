"""SQL of the embedded index's searches: filters, the text match, orders and facets.

Text is matched as a `tsquery` of the `english` configuration built from the query's
words (adapters/search/pg_typos.py chooses the corrections): every word must match
(AND), each as itself or one of its corrections, the last also as a prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, select, true
from sqlalchemy.sql.elements import UnaryExpression

from domain.enums import AuctionSort
from services.search.port import SearchFilter
from storage.search_tables import search_documents as docs

_ENGLISH: ColumnElement[Any] = literal_column("'english'::regconfig")
MAX_QUERY_WORDS = 10  # further words are ignored (docs/search.md)


@dataclass(frozen=True, slots=True)
class TextQuery:
    """The match of a search's words: `matches` (every word as itself, a correction or,
    the last, a prefix) and `exact` (one tsquery per word, as typed)."""

    matches: str
    exact: tuple[str, ...]


def text_query(words: Sequence[str], corrections: Sequence[set[str]]) -> TextQuery:
    """The tsquery texts of `words` (from `pg_typos.words_of`: letters and digits only,
    so quoting them is safe) with each word's `corrections`."""
    groups: list[str] = []
    exact: list[str] = []
    for position, (word, fixes) in enumerate(zip(words, corrections, strict=True)):
        typed = f"'{word}':*" if position == len(words) - 1 else f"'{word}'"
        exact.append(typed)
        groups.append("(" + " | ".join([typed, *(f"'{w}'" for w in sorted(fixes))]) + ")")
    return TextQuery(matches=" & ".join(groups), exact=tuple(exact))


def tsquery(text: str) -> ColumnElement[Any]:
    return func.to_tsquery(_ENGLISH, text)


@dataclass(frozen=True, slots=True)
class Conditions:
    """A filter as SQL: `common` applies to every count, each facet's own condition to
    everything but its facet's count (None: no such filter)."""

    common: list[ColumnElement[bool]]
    category: ColumnElement[bool] | None
    type: ColumnElement[bool] | None
    condition: ColumnElement[bool] | None

    def all(self) -> list[ColumnElement[bool]]:
        return self.common + [
            c for c in (self.category, self.type, self.condition) if c is not None
        ]

    def but(self, facet: str) -> list[ColumnElement[bool]]:
        others = {"category": self.category, "type": self.type, "condition": self.condition}
        others.pop(facet)
        return self.common + [c for c in others.values() if c is not None]


def conditions(f: SearchFilter, text: TextQuery | None) -> Conditions:
    c = docs.c
    common: list[ColumnElement[bool]] = [c.status.in_([s.value for s in f.statuses])]
    if text is not None:
        common.append(c.document.op("@@")(tsquery(text.matches)))
    if f.min_price_scaled is not None:
        common.append(c.price_scaled >= f.min_price_scaled)
    if f.max_price_scaled is not None:
        common.append(c.price_scaled <= f.max_price_scaled)
    if f.seller_id is not None:
        common.append(c.seller_id == f.seller_id)
    if f.ends_from is not None:
        common.append(c.ends_at >= f.ends_from)
    if f.ends_until is not None:
        common.append(c.ends_at <= f.ends_until)
    if f.has_buy_now is not None:
        common.append(c.has_buy_now.is_(f.has_buy_now))
    if f.reserve_met is not None:
        common.append(c.reserve_met.is_(f.reserve_met))
    if f.auction_ids is not None:
        common.append(c.auction_id.in_(list(f.auction_ids)))
    return Conditions(
        common=common,
        category=c.category.in_(list(f.categories)) if f.categories is not None else None,
        type=c.type.in_([t.value for t in f.types]) if f.types is not None else None,
        condition=(
            c.condition.in_([x.value for x in f.conditions]) if f.conditions is not None else None
        ),
    )


def order_of(sort: AuctionSort, text: TextQuery | None) -> list[UnaryExpression[Any]]:
    """The ORDER BY of a sort; ties by auction id ascending. RELEVANCE: words as typed
    before corrections, then ts_rank (title A = 1.0 over description B = 0.4); without
    text it is NEWLY_LISTED."""
    c = docs.c
    tie = c.auction_id.asc()
    if sort is AuctionSort.RELEVANCE and text is not None:
        exact_words: ColumnElement[Any] = sum(
            (case((c.document.op("@@")(tsquery(e)), 1), else_=0) for e in text.exact),
            start=literal_column("0"),
        )
        rank = func.ts_rank(c.document, tsquery(text.matches))
        return [exact_words.desc(), rank.desc(), tie]
    orders: dict[AuctionSort, UnaryExpression[Any]] = {
        AuctionSort.ENDING_SOON: c.ends_at.asc(),
        AuctionSort.NEWLY_LISTED: c.listed_at.desc(),
        AuctionSort.RELEVANCE: c.listed_at.desc(),
        AuctionSort.PRICE_ASC: c.price_scaled.asc(),
        AuctionSort.PRICE_DESC: c.price_scaled.desc(),
        AuctionSort.MOST_BIDS: c.bid_count.desc(),
    }
    return [orders[sort], tie]


def ids_query(
    where: Conditions, sort: AuctionSort, text: TextQuery | None, limit: int
) -> Select[Any]:
    return (
        select(docs.c.auction_id)
        .where(and_(true(), *where.all()))
        .order_by(*order_of(sort, text))
        .limit(limit)
    )


def total_query(where: Conditions) -> Select[Any]:
    return select(func.count()).select_from(docs).where(and_(true(), *where.all()))


def facets_query(where: Conditions) -> Any:
    """(facet, value, count) rows of the three facets, each under every condition but
    its own, in one pass over the rows the common conditions keep: grouping sets, one
    set per facet, each counting (FILTER) the rows its facet's other conditions keep.
    Values that count none are left out."""
    c = docs.c
    facet = case(
        (func.grouping(c.category) == 0, literal_column("'category'")),
        (func.grouping(c.type) == 0, literal_column("'type'")),
        else_=literal_column("'condition'"),
    )
    value = func.coalesce(c.category, c.type, c.condition)
    query = select(facet, value, func.count())
    if where.category is not None or where.type is not None or where.condition is not None:
        # Each set counts the rows the other facets' conditions keep (the common ones
        # are the WHERE); a value none of them keeps is no facet value.
        count = case(
            (func.grouping(c.category) == 0, _count_where(where, "category")),
            (func.grouping(c.type) == 0, _count_where(where, "type")),
            else_=_count_where(where, "condition"),
        )
        query = select(facet, value, count).having(count > 0)
    return query.where(and_(true(), *where.common)).group_by(
        func.grouping_sets(c.category, c.type, c.condition)
    )


def _count_where(where: Conditions, facet: str) -> Any:
    others = where.but(facet)[len(where.common) :]
    return func.count().filter(and_(true(), *others))


def total_of_facets(rows: Sequence[Any], f: SearchFilter) -> int:
    """The number of documents under every condition, from `facets_query`'s rows: each
    document has exactly one type, and the type facet counts under every condition but
    its own, so the total is the type counts of the types the filter keeps. Saves the
    count's own pass over the matches (a search with facets reads them once less)."""
    kept = None if f.types is None else {t.value for t in f.types}
    return sum(
        count for facet, value, count in rows if facet == "type" and (kept is None or value in kept)
    )
