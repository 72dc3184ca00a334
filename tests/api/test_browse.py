"""Browsing: filters, sorts, cursor pagination edges, and a constant number of queries."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.helpers import PUBLISH, create_auction, iso, register

PAGE = """query($f: AuctionFilter, $s: AuctionSort, $first: Int, $after: String) {
  auctions(filter: $f, sort: $s, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id bidCount endsAt startingPrice { amount }
      item { title category seller { id username } imageUrls } } }
  }
}"""


@pytest.fixture(scope="module")
async def catalog(gql):
    """One seller with seven published auctions in a category of their own."""
    seller = await register(gql, seller=True)
    ids = []
    for i in range(7):
        created = await create_auction(
            gql,
            seller,
            title=f"Browse lot {i}",
            category="music/vinyl" if i % 2 else "music",
            startingPrice=f"{10 + i}.00",
            endsAt=iso(timedelta(hours=1 + i)),
            condition="NEW" if i < 3 else "USED",
        )
        await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
        ids.append(created["id"])
    return seller, ids


async def _all_pages(gql, variables, size):
    seen: list[str] = []
    after = None
    while True:
        body = await gql(PAGE, {**variables, "first": size, "after": after})
        page = body["data"]["auctions"]
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return seen, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize(
    "sort", ["ENDING_SOON", "NEWLY_LISTED", "PRICE_ASC", "PRICE_DESC", "MOST_BIDS", "RELEVANCE"]
)
@pytest.mark.parametrize("size", [1, 3, 7, 100])
async def test_pages_cover_everything_once_in_order(gql, catalog, sort, size):
    seller, ids = catalog
    seen, total = await _all_pages(gql, {"f": {"sellerId": seller.id}, "s": sort}, size)
    assert total == 7
    assert sorted(seen) == sorted(ids)
    if sort == "ENDING_SOON":
        assert seen == ids
    if sort == "PRICE_DESC":
        assert seen == ids[::-1]


async def test_filters(gql, catalog):
    seller, _ = catalog

    async def count(**f):
        body = await gql(PAGE, {"f": {"sellerId": seller.id, **f}, "first": 50})
        return body["data"]["auctions"]["totalCount"]

    assert await count(category="music") == 7  # the whole subtree
    assert await count(category="music/vinyl") == 3
    assert await count(conditions=["NEW"]) == 3
    assert await count(minPrice="12", maxPrice="14.00") == 3
    assert await count(types=["DUTCH"]) == 0
    assert await count(endingWithinSeconds=int(timedelta(hours=2, minutes=30).total_seconds())) == 2
    assert await count(statuses=["ENDED"]) == 0


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"first": -1}, "INVALID_PAGE_SIZE"),
        ({"first": 1000}, "INVALID_PAGE_SIZE"),
        ({"after": "garbage!"}, "INVALID_CURSOR"),
        ({"after": "WzEsMl0"}, "INVALID_CURSOR"),
        ({"f": {"category": "nope"}}, "UNKNOWN_CATEGORY"),
        ({"f": {"minPrice": "-3"}}, "INVALID_AMOUNT"),
        ({"f": {"sellerId": "x"}}, "INVALID_ID"),
    ],
)
async def test_bad_page_arguments(gql, variables, code):
    body = await gql(PAGE, variables)
    assert body["errors"][0]["extensions"]["code"] == code, body


async def test_first_zero_gives_count_only(gql, catalog):
    seller, _ = catalog
    page = (await gql(PAGE, {"f": {"sellerId": seller.id}, "first": 0}))["data"]["auctions"]
    assert page["edges"] == [] and page["totalCount"] == 7 and page["pageInfo"]["hasNextPage"]


async def test_drafts_stay_private(gql, catalog):
    seller, _ = catalog
    draft = await create_auction(gql, seller, title="Secret draft")
    query = {"f": {"statuses": ["DRAFT"], "sellerId": seller.id}, "first": 50}
    mine = (await gql(PAGE, query, token=seller.token))["data"]["auctions"]
    assert draft["id"] in [e["node"]["id"] for e in mine["edges"]]
    theirs = (await gql(PAGE, query))["data"]["auctions"]
    assert theirs["totalCount"] == 0


async def test_fifty_auction_page_costs_a_constant_number_of_queries(gql, app):
    sellers = [await register(gql, seller=True) for _ in range(5)]
    marker = f"music/vinyl-{uuid.uuid4().hex[:4]}"
    for i in range(50):
        created = await create_auction(gql, sellers[i % 5], title=f"Query count {marker} {i}")
        await gql(PUBLISH, {"id": created["id"]}, token=sellers[i % 5].token)
    statements: list[str] = []
    counting: ContextVar[bool] = ContextVar("counting", default=False)

    def count(conn, cursor, statement, *args):
        if counting.get():  # only this request's queries, not the background workers'
            statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    counting.set(True)
    try:
        small = await gql(PAGE, {"f": {"sellerId": sellers[0].id}, "first": 2, "s": "NEWLY_LISTED"})
        small_count = len(statements)
        statements.clear()
        big = await gql(PAGE, {"first": 50, "s": "NEWLY_LISTED"})
        big_count = len(statements)
    finally:
        counting.set(False)
        event.remove(engine, "before_cursor_execute", count)
    assert len(small["data"]["auctions"]["edges"]) == 2
    assert len(big["data"]["auctions"]["edges"]) == 50
    sellers_seen = {e["node"]["item"]["seller"]["id"] for e in big["data"]["auctions"]["edges"]}
    assert len(sellers_seen) >= 5
    # page + count + items + sellers + images, whatever the page size
    assert big_count == small_count <= 5, (small_count, big_count)


async def test_cursor_of_another_sort_is_refused(gql, catalog):
    seller, _ = catalog
    body = await gql(PAGE, {"f": {"sellerId": seller.id}, "first": 1, "s": "PRICE_ASC"})
    cursor = body["data"]["auctions"]["pageInfo"]["endCursor"]
    body = await gql(PAGE, {"f": {"sellerId": seller.id}, "after": cursor, "s": "ENDING_SOON"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
