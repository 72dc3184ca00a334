"""Contract: every filter, every sort, totals and facets, against the reference model
(tests/search_contract/expected.py) over the whole corpus."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.categories import subtree
from domain.enums import AuctionSort, AuctionStatus, AuctionType, ItemCondition
from services.search.port import (
    MAX_RESULTS,
    SEARCHABLE_STATUSES,
    SearchFilter,
    SearchIndex,
    SearchRequest,
)
from tests.search_contract import expected
from tests.search_contract.conftest import Corpus


def filters(corpus: Corpus) -> dict[str, SearchFilter]:
    docs = corpus.documents
    prices = sorted(d.price_scaled for d in docs)
    seller = docs[10].seller_id
    base = SearchFilter()
    return {
        "default": base,
        "category-subtree": replace(base, categories=subtree("cameras")),
        "category-leaf": replace(base, categories=subtree("electronics/audio")),
        "types": replace(base, types=(AuctionType.DUTCH, AuctionType.SEALED_FIRST_PRICE)),
        "conditions": replace(base, conditions=(ItemCondition.NEW, ItemCondition.FOR_PARTS)),
        "min-price": replace(base, min_price_scaled=prices[len(prices) // 2]),
        "max-price": replace(base, max_price_scaled=prices[len(prices) // 3]),
        "price-range": replace(
            base,
            min_price_scaled=prices[len(prices) // 4],
            max_price_scaled=prices[len(prices) // 2],
        ),
        "seller": replace(base, seller_id=seller),
        "ending-within": replace(
            base, ends_from=corpus.now, ends_until=corpus.now + timedelta(days=2)
        ),
        "has-buy-now": replace(base, has_buy_now=True),
        "no-buy-now": replace(base, has_buy_now=False),
        "reserve-met": replace(base, reserve_met=True),
        "reserve-not-met": replace(base, reserve_met=False),
        "ended": replace(base, statuses=(AuctionStatus.ENDED,)),
        "cancelled": replace(base, statuses=(AuctionStatus.CANCELLED,)),
        "all-statuses": replace(base, statuses=SEARCHABLE_STATUSES),
        "ids": replace(base, auction_ids=tuple(d.auction_id for d in docs[:50])),
        "no-types": replace(base, types=()),
        "combined": replace(
            base,
            categories=subtree("music"),
            types=(AuctionType.ENGLISH,),
            statuses=SEARCHABLE_STATUSES,
            has_buy_now=False,
        ),
    }


# Every filter of `filters` (all-statuses matches more than MAX_RESULTS).
FILTER_NAMES = [
    "default", "category-subtree", "category-leaf", "types", "conditions", "min-price",
    "max-price", "price-range", "seller", "ending-within", "has-buy-now", "no-buy-now",
    "reserve-met", "reserve-not-met", "ended", "cancelled", "all-statuses", "ids",
    "no-types", "combined",
]  # fmt: skip


@pytest.mark.parametrize("name", FILTER_NAMES)
async def test_every_filter_finds_exactly_its_matches_with_facets(
    index: SearchIndex, corpus: Corpus, name: str
) -> None:
    f = filters(corpus)[name]
    want = expected.filtered(corpus.documents, f)
    answer = await index.search(
        SearchRequest(
            text=None, filter=f, sort=AuctionSort.ENDING_SOON, limit=MAX_RESULTS, facets=True
        )
    )
    assert answer.total == len(want)
    assert (
        answer.ids
        == [d.auction_id for d in sorted(want, key=expected.sort_key(AuctionSort.ENDING_SOON))][
            :MAX_RESULTS
        ]
    )
    assert answer.facets is not None
    reference = expected.facets(corpus.documents, f)
    for facet in ("category", "type", "condition"):
        got = {k: v for k, v in getattr(answer.facets, facet).items() if v}
        assert got == getattr(reference, facet), facet
    if name not in ("no-types", "ids"):
        assert len(want) > 0, "a filter that matches nothing proves little"


@pytest.mark.parametrize("name", FILTER_NAMES)
async def test_the_total_past_the_limit_counts_every_match_with_facets(
    index: SearchIndex, corpus: Corpus, name: str
) -> None:
    """A page shorter than the matches still counts them all, whichever facet the
    filter narrows (the PostgreSQL adapter takes this total from the facet counts)."""
    f = filters(corpus)[name]
    want = expected.filtered(corpus.documents, f)
    answer = await index.search(SearchRequest(text=None, filter=f, limit=1, facets=True))
    assert answer.total == len(want)
    words = await index.search(SearchRequest(text="vintage", filter=f, limit=1, facets=True))
    assert words.total == len(
        (await index.search(SearchRequest(text="vintage", filter=f, limit=MAX_RESULTS))).ids
    )


@pytest.mark.parametrize("sort", list(AuctionSort))
async def test_every_sort_orders_with_ties_by_id(
    index: SearchIndex, corpus: Corpus, sort: AuctionSort
) -> None:
    f = SearchFilter(statuses=SEARCHABLE_STATUSES, categories=subtree("home"))
    want = sorted(expected.filtered(corpus.documents, f), key=expected.sort_key(sort))
    answer = await index.search(SearchRequest(text=None, filter=f, sort=sort, limit=MAX_RESULTS))
    assert answer.ids == [d.auction_id for d in want]


@pytest.mark.parametrize("sort", list(AuctionSort))
async def test_sorts_apply_to_text_matches_too(
    index: SearchIndex, corpus: Corpus, sort: AuctionSort
) -> None:
    by_id = corpus.by_id()
    answer = await index.search(
        SearchRequest(text="camera", filter=SearchFilter(), sort=sort, limit=200)
    )
    assert len(answer.ids) > 5
    if sort is not AuctionSort.RELEVANCE:
        got = [by_id[i] for i in answer.ids]
        assert got == sorted(got, key=expected.sort_key(sort))


async def test_limit_cuts_the_ids_but_not_the_total(index: SearchIndex, corpus: Corpus) -> None:
    full = await index.search(
        SearchRequest(text="vintage", filter=SearchFilter(), limit=MAX_RESULTS)
    )
    some = await index.search(SearchRequest(text="vintage", filter=SearchFilter(), limit=3))
    assert len(full.ids) > 3
    assert some.ids == full.ids[:3]
    assert some.total == full.total == len(full.ids)


async def test_facets_agree_with_a_direct_sql_count(index: SearchIndex, corpus: Corpus) -> None:
    """The category facet for a filtered search equals a count over auctions and items."""
    f = SearchFilter(types=(AuctionType.ENGLISH,), conditions=(ItemCondition.USED,))
    answer = await index.search(SearchRequest(text=None, filter=f, limit=1, facets=True))
    assert answer.facets is not None
    async with corpus.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT i.category, count(*) FROM auctions a JOIN items i ON i.id = a.item_id"
                " WHERE a.status IN ('SCHEDULED','ACTIVE') AND a.type = 'ENGLISH'"
                " AND i.condition = 'USED' GROUP BY i.category"
            )
        )
        leaves: dict[str, int] = dict(rows.all())
        types: dict[str, int] = dict(
            (
                await conn.execute(
                    text(
                        "SELECT a.type, count(*) FROM auctions a JOIN items i ON i.id = a.item_id"
                        " WHERE a.status IN ('SCHEDULED','ACTIVE') AND i.condition = 'USED'"
                        " GROUP BY a.type"
                    )
                )
            ).all()
        )
    for path in leaves:
        below = sum(n for c, n in leaves.items() if c == path or c.startswith(path + "/"))
        assert answer.facets.category[path] == below
    tops = {c.split("/")[0] for c in leaves}
    assert sum(answer.facets.category[t] for t in tops) == answer.total
    assert {k: v for k, v in answer.facets.type.items() if v} == types


async def test_an_unknown_id_filter_matches_nothing(index: SearchIndex) -> None:
    f = SearchFilter(auction_ids=(uuid.uuid4(),))
    answer = await index.search(SearchRequest(text=None, filter=f, facets=True))
    assert answer.ids == [] and answer.total == 0
