"""Meilisearch search bodies (adapters/search/meili_queries.py): filters for every field,
quoting that no value can break out of, sorts, the facet plan and reading the answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.search.meili_queries import (
    SORTS,
    Facet,
    answer_of,
    filter_clauses,
    ids_clause,
    plan,
    quoted,
    sort_of,
)
from domain.enums import AuctionSort, AuctionStatus, AuctionType, ItemCondition
from services.search.port import Facets, SearchFilter, SearchRequest

# --- A reference of the server's filter lexer for quoted values -------------------------
# crates/filter-parser (value.rs) of Meilisearch >= 1.4: inside "...", a backslash takes
# the next character along; the value is then un-escaped twice: `\"` -> `"`, then
# `\\` -> `\` (any other escape would mean something else: refused here).


def _unescape(text: str) -> str:
    out, chars = [], iter(text)
    for c in chars:
        if c == "\\":
            nxt = next(chars, None)
            if nxt not in ("\\", '"'):
                raise ValueError(f"escape \\{nxt} would be read as something else")
            out.append(nxt)
        else:
            out.append(c)
    return "".join(out)


def lex(expression: str) -> tuple[str, list[str]]:
    """`expression` with every quoted value replaced by `_`, and the values."""
    skeleton, values, i = [], [], 0
    while i < len(expression):
        c = expression[i]
        if c != '"':
            skeleton.append(c)
            i += 1
            continue
        j = i + 1
        while True:
            if j >= len(expression):
                raise ValueError("missing closing quote")
            if expression[j] == "\\":
                if j + 1 >= len(expression):
                    raise ValueError("malformed value")
                j += 2
                continue
            if expression[j] == '"':
                break
            j += 1
        raw = expression[i + 1 : j]
        values.append(_unescape(raw.replace('\\"', '"')) if '\\"' in raw else _unescape(raw))
        skeleton.append("_")
        i = j + 1
    return "".join(skeleton), values


NASTY = [
    "",
    '"',
    "\\",
    '\\"',
    '"\\',
    '\\\\"',
    'cameras" OR status = "DRAFT',
    'x\\" OR status = \\"DRAFT',
    "new\nline\ttab",
    "\\n\\u0041",
    "]) OR (status EXISTS",
    "ünïcødé 😀",
]


@pytest.mark.parametrize("value", NASTY)
def test_a_quoted_value_means_exactly_itself(value: str):
    assert lex(f"seller_id = {quoted(value)}") == ("seller_id = _", [value])


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_no_value_can_close_its_quotes_or_add_an_expression(values: list[str]):
    clauses = filter_clauses(SearchFilter(categories=tuple(values)))
    assert clauses is not None
    category = next(c for c in clauses if c.startswith("category_path"))
    skeleton, parsed = lex(category)
    assert skeleton == "category_path IN [" + ", ".join("_" * len(values)) + "]"
    assert parsed == values


# --- Filters ---------------------------------------------------------------------------

SELLER = uuid.UUID("00000000-0000-4000-8000-000000000001")
IDS = (uuid.UUID("00000000-0000-4000-8000-00000000000a"), SELLER)
MOMENT = datetime(2026, 11, 30, 12, 0, 0, 250_999, tzinfo=UTC)
MOMENT_MS = 1_796_040_000_250  # 2026-11-30T12:00:00.250Z


def test_the_default_filter_is_the_default_statuses_only():
    assert filter_clauses(SearchFilter()) == ['status IN ["SCHEDULED", "ACTIVE"]']


def test_every_field_becomes_its_expression():
    f = SearchFilter(
        statuses=(AuctionStatus.ENDED,),
        categories=("cameras", "cameras/film"),
        types=(AuctionType.ENGLISH, AuctionType.SEALED_FIRST_PRICE),
        conditions=(ItemCondition.NEW,),
        min_price_scaled=10_000,
        max_price_scaled=2_500_000,
        seller_id=SELLER,
        ends_from=MOMENT,
        ends_until=MOMENT + timedelta(hours=1),
        has_buy_now=True,
        reserve_met=False,
        auction_ids=IDS,
    )
    assert filter_clauses(f) == [
        'status IN ["ENDED"]',
        'category_path IN ["cameras", "cameras/film"]',
        'type IN ["ENGLISH", "SEALED_FIRST_PRICE"]',
        'condition IN ["NEW"]',
        f'auction_id IN ["{IDS[0]}", "{IDS[1]}"]',
        "price_scaled >= 10000",
        "price_scaled <= 2500000",
        f'seller_id = "{SELLER}"',
        f"ends_at_ms >= {MOMENT_MS}",
        f"ends_at_ms <= {MOMENT_MS + 3_600_000}",
        "has_buy_now = true",
        "reserve_met = false",
    ]


def test_booleans_filter_both_ways():
    assert filter_clauses(SearchFilter(has_buy_now=False, reserve_met=True)) == [
        'status IN ["SCHEDULED", "ACTIVE"]',
        "has_buy_now = false",
        "reserve_met = true",
    ]


def test_moment_bounds_round_down_to_the_millisecond_like_the_documents():
    # A document ending at .250999 is stored as .250: a bound at that very moment must
    # still include it, on either side.
    [_, low] = filter_clauses(SearchFilter(ends_from=MOMENT)) or []
    [_, high] = filter_clauses(SearchFilter(ends_until=MOMENT)) or []
    assert low == f"ends_at_ms >= {MOMENT_MS}"
    assert high == f"ends_at_ms <= {MOMENT_MS}"


@pytest.mark.parametrize(
    "empty",
    [
        SearchFilter(statuses=()),
        SearchFilter(categories=()),
        SearchFilter(types=()),
        SearchFilter(conditions=()),
        SearchFilter(auction_ids=()),
        SearchFilter(types=(AuctionType.ENGLISH,), conditions=()),
    ],
)
def test_an_empty_tuple_matches_nothing(empty: SearchFilter):
    assert filter_clauses(empty) is None


def test_a_facet_leaves_out_only_its_own_constraint():
    f = SearchFilter(
        categories=("art",),
        types=(AuctionType.DUTCH,),
        conditions=(ItemCondition.USED,),
        has_buy_now=True,
    )
    everything = filter_clauses(f) or []
    for facet, own in [
        (Facet.CATEGORY, 'category_path IN ["art"]'),
        (Facet.TYPE, 'type IN ["DUTCH"]'),
        (Facet.CONDITION, 'condition IN ["USED"]'),
    ]:
        assert filter_clauses(f, without=facet) == [c for c in everything if c != own]
    # Its own empty tuple does not empty the facet's query; another's does.
    assert filter_clauses(SearchFilter(types=()), without=Facet.TYPE) == [
        'status IN ["SCHEDULED", "ACTIVE"]'
    ]
    assert filter_clauses(SearchFilter(types=()), without=Facet.CONDITION) is None


def test_an_id_list_is_one_quoted_in_expression():
    assert ids_clause(IDS) == f'auction_id IN ["{IDS[0]}", "{IDS[1]}"]'


# --- Sorts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (AuctionSort.ENDING_SOON, ["ends_at_ms:asc", "auction_id:asc"]),
        (AuctionSort.NEWLY_LISTED, ["listed_at_ms:desc", "auction_id:asc"]),
        (AuctionSort.PRICE_ASC, ["price_scaled:asc", "auction_id:asc"]),
        (AuctionSort.PRICE_DESC, ["price_scaled:desc", "auction_id:asc"]),
        (AuctionSort.MOST_BIDS, ["bid_count:desc", "auction_id:asc"]),
    ],
)
def test_each_sort_maps_to_its_key_then_the_id(sort: AuctionSort, expected: list[str]):
    for text in (None, "", "camera"):
        assert sort_of(SearchRequest(text=text, filter=SearchFilter(), sort=sort)) == expected


def test_relevance_ranks_words_and_without_words_falls_back_to_newly_listed():
    with_words = SearchRequest(text=" vintge camra ", filter=SearchFilter())
    assert sort_of(with_words) is None  # the index's ranking rules
    for blank in (None, "", "   ", '"" - -- !?', "the with"):
        request = SearchRequest(text=blank, filter=SearchFilter())
        assert sort_of(request) == SORTS[AuctionSort.NEWLY_LISTED]


# --- The facet plan and the answer ------------------------------------------------------


def test_without_facets_one_query_gives_ids_and_total():
    request = SearchRequest(text="walnut turntable", filter=SearchFilter(), limit=25)
    search_plan = plan("auctions", request)
    assert search_plan.per_facet == ()
    assert search_plan.main.body == {
        "indexUid": "auctions",
        "q": "walnut turntable",
        "matchingStrategy": "all",
        "filter": ['status IN ["SCHEDULED", "ACTIVE"]'],
        "page": 1,
        "hitsPerPage": 25,
        "attributesToRetrieve": ["auction_id"],
    }


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("Walnut  Turntable", "Walnut Turntable"),  # Meilisearch normalises case itself
        ('"walnut turntable"', "walnut turntable"),  # no phrase search
        ("-walnut turntable", "walnut turntable"),  # no negation
        ("e-mail, ünïcødé_x", "e mail ünïcødé x"),
        # as typed, never casefolded: the document holds "Straße", not "strasse"
        ("Straße λόγος", "Straße λόγος"),
        ("lens/camera shop@vintage.com", "lens camera shop vintage com"),
        (" ".join(f"w{i}" for i in range(14)), " ".join(f"w{i}" for i in range(10))),
        ("?!", ""),  # no words: everything matches
        ("the quillwort lamp", "quillwort lamp"),  # stop words as PostgreSQL drops them
        ("other quillwort", "quillwort"),  # never corrected into "otter"
        ("The With OTHER", ""),  # stop words only: as no words
    ],
)
def test_only_plain_words_reach_meilisearch(text: str, sent: str):
    body = plan("auctions", SearchRequest(text=text, filter=SearchFilter())).main.body
    assert body is not None and body["q"] == sent


def test_facets_without_filters_of_their_own_come_with_the_main_query():
    request = SearchRequest(
        text=None, filter=SearchFilter(), sort=AuctionSort.PRICE_ASC, facets=True
    )
    search_plan = plan("auctions", request)
    assert search_plan.per_facet == ()
    assert search_plan.main.facets == (Facet.CATEGORY, Facet.TYPE, Facet.CONDITION)
    assert search_plan.main.body is not None
    assert search_plan.main.body["facets"] == ["category_path", "type", "condition"]
    assert search_plan.main.body["sort"] == ["price_scaled:asc", "auction_id:asc"]


def test_a_filtered_facet_is_counted_by_its_own_query_without_its_filter():
    f = SearchFilter(types=(AuctionType.ENGLISH,), categories=("cameras",), has_buy_now=True)
    request = SearchRequest(text="lens", filter=f, facets=True)
    search_plan = plan("auctions", request)
    assert search_plan.main.facets == (Facet.CONDITION,)
    assert [q.facets for q in search_plan.per_facet] == [(Facet.CATEGORY,), (Facet.TYPE,)]
    for query in search_plan.per_facet:
        [facet] = query.facets
        assert query.body is not None
        assert query.body["q"] == "lens"
        assert query.body["hitsPerPage"] == 0  # counts only
        assert "sort" not in query.body
        assert query.body["facets"] == [facet.value]
        assert query.body["filter"] == filter_clauses(f, without=facet)


def test_a_query_that_cannot_match_is_not_sent():
    request = SearchRequest(text="x", filter=SearchFilter(types=()), facets=True)
    search_plan = plan("auctions", request)
    assert search_plan.main.body is None
    [type_query] = search_plan.per_facet
    assert type_query.facets == (Facet.TYPE,)
    assert type_query.body is not None  # types are counted as if any type were asked


def test_the_answer_reads_ids_total_and_each_facet_from_its_query():
    a, b = uuid.uuid4(), uuid.uuid4()
    f = SearchFilter(types=(AuctionType.ENGLISH,))
    request = SearchRequest(text="camera", filter=f, facets=True)
    search_plan = plan("auctions", request)
    results = [
        {
            "hits": [{"auction_id": str(a)}, {"auction_id": str(b)}],
            "totalHits": 7,
            "facetDistribution": {
                "category_path": {"cameras": 7, "cameras/film": 4},
                "condition": {"NEW": 5, "USED": 2},
            },
        },
        {"hits": [], "totalHits": 9, "facetDistribution": {"type": {"ENGLISH": 7, "DUTCH": 2}}},
    ]
    answer = answer_of(request, search_plan, results)
    assert answer.ids == [a, b]
    assert answer.total == 7
    assert answer.facets == Facets(
        category={"cameras": 7, "cameras/film": 4},
        type={"ENGLISH": 7, "DUTCH": 2},
        condition={"NEW": 5, "USED": 2},
    )


def test_an_unsent_query_answers_nothing_and_no_facets_when_none_were_asked():
    request = SearchRequest(text="x", filter=SearchFilter(statuses=()), facets=True)
    search_plan = plan("auctions", request)
    assert all(q.body is None for q in search_plan.queries)
    answer = answer_of(request, search_plan, [])
    assert (answer.ids, answer.total, answer.facets) == ([], 0, Facets())
    plain = SearchRequest(text="x", filter=SearchFilter())
    only = answer_of(plain, plan("auctions", plain), [{"hits": [], "totalHits": 0}])
    assert only.facets is None


def test_facet_values_come_back_as_the_api_names_them_whatever_their_case():
    request = SearchRequest(text=None, filter=SearchFilter(), facets=True)
    search_plan = plan("auctions", request)
    results = [
        {
            "hits": [],
            "totalHits": 3,
            "facetDistribution": {
                "category_path": {"cameras": 3},
                "type": {"english": 2, "Dutch": 1},
                "condition": {"like_new": 3},
            },
        }
    ]
    facets = answer_of(request, search_plan, results).facets
    assert facets == Facets(
        category={"cameras": 3}, type={"ENGLISH": 2, "DUTCH": 1}, condition={"LIKE_NEW": 3}
    )
