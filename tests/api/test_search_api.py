"""searchAuctions over GraphQL: words with typos, filters, sorts, facets, snapshot
paging that stays whole while real bids move prices, and bad input codes."""

from __future__ import annotations

import random
import string
import uuid
from datetime import timedelta
from typing import Any

import pytest

from services.search.documents import load_documents
from services.search.query import SNAPSHOT_KEY
from tests.helpers import BID, PUBLISH, Account, create_auction, iso, register

SEARCH = """query($q: String, $f: AuctionFilter, $s: AuctionSort, $first: Int, $after: String) {
  searchAuctions(query: $q, filter: $f, sort: $s, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id type bidCount currentPrice { amount } startingPrice { amount }
                          item { title category condition } } }
    categoryFacets { value count } typeFacets { value count } conditionFacets { value count }
  }
}"""


def nonsense_word() -> str:
    """A word no other listing has (letters only, so it is one word to the index)."""
    return "".join(random.choice(string.ascii_lowercase) for _ in range(9))


async def index(app: Any, auction_ids: list[str]) -> None:
    """What the freshness indexer does for these auctions: their documents, now."""
    deps = app.state.deps
    async with deps.uow() as uow:
        documents, _ = await load_documents(
            uow.session, [uuid.UUID(i) for i in auction_ids], deps.clock()
        )
    await deps.search.upsert(documents)


async def search(gql: Any, **variables: Any) -> dict[str, Any]:
    body = await gql(SEARCH, variables)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["searchAuctions"]
    return result


def ids_of(page: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in page["edges"]]


async def publish(gql: Any, seller: Account, **overrides: Any) -> str:
    created = await create_auction(gql, seller, **overrides)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    return str(created["id"])


@pytest.fixture(scope="module")
async def lots(gql: Any, app: Any) -> tuple[str, Account, list[str]]:
    """Six published auctions of one seller sharing a word of their own."""
    word = nonsense_word()
    seller = await register(gql, seller=True)
    specs = [
        dict(title=f"{word} walnut turntable", category="electronics/audio", startingPrice="30.00"),
        dict(title=f"{word} oak turntable", category="electronics/audio", startingPrice="10.00"),
        dict(title=f"{word} brass lamp", category="home/decor", startingPrice="20.00",
             condition="NEW", buyNowPrice="200.00"),
        dict(title=f"{word} film camera", category="cameras/film", startingPrice="40.00",
             type="SEALED_FIRST_PRICE"),
        dict(title=f"{word} lens", category="cameras/lenses", startingPrice="50.00",
             endsAt=iso(timedelta(days=6))),
        dict(title=f"{word} tripod", category="cameras", startingPrice="60.00",
             reservePrice="100.00"),
    ]  # fmt: skip
    ids = [await publish(gql, seller, **spec) for spec in specs]
    await index(app, ids)
    return word, seller, ids


async def test_finds_listings_by_words_with_typos_and_ranks_the_best_first(gql, lots):
    word, _, ids = lots
    typo = word[:3] + word[4] + word[3] + word[5:]  # two neighbours swapped
    page = await search(gql, q=f"{typo} walnut turntabel")
    assert ids_of(page) == [ids[0]] and page["totalCount"] == 1
    both = await search(gql, q=f"{word} turntable")
    assert set(ids_of(both)) == {ids[0], ids[1]}


async def test_filters_and_facets(gql, lots):
    word, seller, ids = lots
    everything = await search(gql, q=word, f={"sellerId": seller.id})
    assert everything["totalCount"] == 6
    assert everything["categoryFacets"][:3] == [
        {"value": "cameras", "count": 3},
        {"value": "electronics", "count": 2},
        {"value": "electronics/audio", "count": 2},
    ]
    cameras = await search(gql, q=word, f={"category": "cameras", "types": ["ENGLISH"]})
    assert set(ids_of(cameras)) == {ids[4], ids[5]}
    # A facet ignores its own filter: the type facet still shows the sealed one.
    assert {"value": "SEALED_FIRST_PRICE", "count": 1} in cameras["typeFacets"]
    assert cameras["categoryFacets"][0] == {"value": "cameras", "count": 2}
    cheap = await search(gql, q=word, f={"minPrice": "15", "maxPrice": "40.00"})
    assert set(ids_of(cheap)) == {ids[0], ids[2], ids[3]}
    assert ids_of(await search(gql, q=word, f={"hasBuyNow": True})) == [ids[2]]
    assert ids_of(await search(gql, q=word, f={"reserveMet": False})) == [ids[5]]
    assert ids_of(await search(gql, q=word, f={"conditions": ["NEW"]})) == [ids[2]]
    soon = await search(gql, q=word, f={"endingWithinSeconds": 5 * 86400})
    assert ids[4] not in ids_of(soon) and len(ids_of(soon)) == 5
    assert (await search(gql, q=word, f={"statuses": ["ENDED"]}))["totalCount"] == 0


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("PRICE_ASC", [1, 2, 0, 3, 4, 5]),
        ("PRICE_DESC", [5, 4, 3, 0, 2, 1]),
        ("ENDING_SOON", [0, 1, 2, 3, 5, 4]),
        ("NEWLY_LISTED", [5, 4, 3, 2, 1, 0]),
    ],
)
async def test_sorts(gql, lots, sort, order):
    word, _, ids = lots
    page = await search(gql, q=word, s=sort)
    # ENDING_SOON: each default end is three days after its creation; the lens ends later.
    assert ids_of(page) == [ids[i] for i in order]


async def test_pages_stay_whole_while_bids_move_the_sort_keys(gql, app):
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    # Auctions of their own: the bids here must not move the other tests' prices.
    fresh = nonsense_word()
    mine = [
        await publish(gql, seller, title=f"{fresh} item {i}", startingPrice=f"{10 + i}.00")
        for i in range(7)
    ]
    await index(app, mine)
    first = await search(gql, q=fresh, s="PRICE_DESC", first=3)
    assert first["totalCount"] == 7 and first["pageInfo"]["hasNextPage"]
    seen = ids_of(first)
    # The cheapest two get bids that make them the dearest: a re-run search moves them
    # to the top, the open search's later pages neither repeat nor skip anything.
    for auction_id, amount in ((mine[0], "500.00"), (mine[1], "400.00")):
        body = await gql(BID, {"id": auction_id, "amount": amount}, token=bidder.token)
        assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
    await app.state.persister.drain(mine[:2])
    await index(app, mine[:2])
    after = first["pageInfo"]["endCursor"]
    while True:
        page = await search(gql, q=fresh, s="PRICE_DESC", first=3, after=after)
        seen += ids_of(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(mine))  # the snapshot's order, each once
    # Nodes are live: the last page shows the new price.
    last = {e["node"]["id"]: e["node"] for e in page["edges"]}
    assert last[mine[0]]["currentPrice"]["amount"] == "500.00"
    rerun = await search(gql, q=fresh, s="PRICE_DESC", first=2)
    assert ids_of(rerun) == [mine[0], mine[1]]


async def test_relevance_without_words_is_newest_first(gql, lots):
    _, seller, ids = lots
    page = await search(gql, f={"sellerId": seller.id})
    assert ids_of(page) == list(reversed(ids))
    # Stop words alone are no words (the index drops them from every text).
    assert ids_of(await search(gql, q="the of", f={"sellerId": seller.id})) == ids_of(page)


async def test_huge_and_fine_price_bounds_work(gql, lots):
    word, _, ids = lots
    huge = "9" * 28
    assert (await search(gql, q=word, f={"minPrice": huge}))["totalCount"] == 0
    assert (await search(gql, q=word, f={"maxPrice": huge}))["totalCount"] == 6
    # Bounds finer than a cent round outwards: nothing asked for is left out.
    fine = await search(gql, q=word, f={"minPrice": "9.99999", "maxPrice": "10.000001"})
    assert ids_of(fine) == [ids[1]]


BAD = [
    ({"q": "x" * 201}, "QUERY_TOO_LONG"),
    ({"f": {"statuses": ["DRAFT"]}}, "NOT_SEARCHABLE"),
    ({"f": {"statuses": ["ACTIVE", "DRAFT"]}}, "NOT_SEARCHABLE"),
    ({"f": {"category": "nope/never"}}, "UNKNOWN_CATEGORY"),
    ({"f": {"minPrice": "-1"}}, "INVALID_AMOUNT"),
    ({"f": {"maxPrice": "NaN"}}, "INVALID_INPUT"),  # refused by the Decimal scalar
    ({"f": {"endingWithinSeconds": -5}}, "INVALID_INPUT"),
    ({"first": -1}, "INVALID_PAGE_SIZE"),
    ({"first": 100000}, "INVALID_PAGE_SIZE"),
    ({"after": "not-a-cursor"}, "INVALID_CURSOR"),
    ({"after": "YWJjOjE"}, "INVALID_CURSOR"),  # "abc:1"
    ({"after": "MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA6MQ"}, "INVALID_CURSOR"),  # unknown
    ({"after": "x" * 600}, "INVALID_CURSOR"),
]


@pytest.mark.parametrize(("variables", "code"), BAD)
async def test_bad_input_answers_a_stable_code(gql, variables, code):
    body = await gql(SEARCH, variables)
    assert body["data"] is None or body["data"]["searchAuctions"] is None, body
    assert body["errors"][0]["extensions"]["code"] == code, body


async def test_a_cursor_only_continues_its_own_search(gql, app, lots):
    word, seller, _ = lots
    first = await search(gql, q=word, first=2)
    cursor = first["pageInfo"]["endCursor"]
    for other in (
        {"q": word, "s": "PRICE_ASC"},
        {"q": word + "x"},
        {"q": word, "f": {"sellerId": seller.id}},
    ):
        body = await gql(SEARCH, {**other, "first": 2, "after": cursor})
        assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", other
    assert len(ids_of(await search(gql, q=word, first=2, after=cursor))) == 2
    # An expired snapshot is refused the same way.
    snapshot = cursor  # the snapshot id is inside; drop every snapshot of this search
    redis = app.state.deps.slots.redis
    async for key in redis.scan_iter(match=SNAPSHOT_KEY + "*"):
        await redis.delete(key)
    body = await gql(SEARCH, {"q": word, "first": 2, "after": snapshot})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_sealed_bids_never_show_through_price_filters_sorts_or_facets(gql, app):
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    word = nonsense_word()
    sealed = await publish(
        gql, seller, title=f"{word} sealed", type="SEALED_FIRST_PRICE", startingPrice="10.00"
    )
    english = await publish(gql, seller, title=f"{word} open", startingPrice="50.00")
    body = await gql(BID, {"id": sealed, "amount": "900.00"}, token=bidder.token)
    assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
    await app.state.persister.drain([sealed])
    await index(app, [sealed, english])
    dear = await search(gql, q=word, f={"minPrice": "100"})
    assert dear["totalCount"] == 0 and dear["typeFacets"] == [] and dear["categoryFacets"] == []
    assert ids_of(await search(gql, q=word, f={"maxPrice": "10"})) == [sealed]
    assert ids_of(await search(gql, q=word, s="PRICE_DESC")) == [english, sealed]
    assert ids_of(await search(gql, q=word, s="PRICE_ASC")) == [sealed, english]
    # Its bid count is public (the API shows it too); its amount is not.
    node = (await search(gql, q=word, f={"types": ["SEALED_FIRST_PRICE"]}))["edges"][0]["node"]
    assert node["bidCount"] == 1 and node["currentPrice"] is None


ODD_QUERIES = [
    "'",
    "\\",
    "& | ! ( ) : * <-> ' \"",
    "camera:* & !lens",
    "the",  # stop words only: as no words
    "the walnut",
    "ünïcödé café",
    "日本語 カメラ",
    "🙂 turntable",
    "x" * 200,
    "supercalifragilisticexpialidociousnessly" * 5,
    " ".join(["harpsichord"] * 15),  # more words than count
    "1986 35mm f/2.8",
    "   ",
]


@pytest.mark.parametrize("query", ODD_QUERIES)
async def test_any_text_is_searchable_without_error(gql, query):
    page = await search(gql, q=query, first=3)
    assert page["totalCount"] >= 0


# --- Words as documents hold them (docs/search.md "Matching and typos") ----------------
# One splitter (services/search/words.py) for documents, vocabulary and queries: a
# title's own word, typed back, finds it, however PostgreSQL's parser would have read it.


@pytest.fixture(scope="module")
async def inflected(gql: Any, app: Any) -> tuple[str, dict[str, str]]:
    """Listings whose words are inflected forms another inflection matches by stemming."""
    tag = nonsense_word()
    seller = await register(gql, seller=True)
    specs = {
        "camera": f"{tag} vintage camera",
        "turntables": f"{tag} oak turntables",
        "lamps": f"{tag} brass lamps",
        "walking": f"{tag} walking stick",
        "photographs": f"{tag} framed photographs",
    }
    ids = {k: await publish(gql, seller, title=t, category="home/decor") for k, t in specs.items()}
    await index(app, list(ids.values()))
    return tag, ids


# (query word, the listing): one typo from a form that matches by stemming alone.
STEMMED_TYPOS = [
    ("cameras", "camera"),  # control: stemming alone
    ("camreas", "camera"),  # "cameras", e/r swapped
    ("cameraes", "camera"),  # "cameras" with an e inserted
    ("turntable", "turntables"),  # control
    ("turntble", "turntables"),  # "turntable" less its a
    ("turntabel", "turntables"),  # "turntable", l/e swapped
    ("lamp", "lamps"),  # control (4 letters)
    ("walks", "walking"),  # control: stem walk
    ("walkd", "walking"),  # "walks" with d for s
    ("wlaking", "walking"),  # control-ish: a raw typo
    ("photograhped", "photographs"),  # "photographed", h/p swapped
    ("photogrpahing", "photographs"),  # "photographing", p/a swapped
]


@pytest.mark.parametrize(("word", "target"), STEMMED_TYPOS)
async def test_one_typo_of_an_inflected_form_is_forgiven(
    gql: Any, inflected: tuple[str, dict[str, str]], word: str, target: str
) -> None:
    tag, ids = inflected
    # The word first, the tag last (the last word is also a prefix: keep it exact).
    page = await search(gql, q=f"{word} {tag}")
    assert ids[target] in ids_of(page), (word, target, page["totalCount"])


@pytest.mark.parametrize(("word", "target"), [("camreas", "camera"), ("walkd", "walking")])
async def test_exact_words_rank_above_stem_corrections(
    gql: Any, app: Any, inflected: tuple[str, dict[str, str]], word: str, target: str
) -> None:
    tag, ids = inflected
    seller = await register(gql, seller=True)
    exact = await publish(gql, seller, title=f"{tag} {word} thing", category="home/decor")
    await index(app, [exact])
    found = ids_of(await search(gql, q=f"{word} {tag}"))
    assert found[:1] == [exact] and ids[target] in found, found


async def test_stop_words_are_not_stem_corrected(
    gql: Any, inflected: tuple[str, dict[str, str]]
) -> None:
    tag, ids = inflected
    # "other" is a stop word (ignored), never a typo of anything: the tag alone decides.
    page = await search(gql, q=f"other {tag}")
    assert set(ids.values()) <= set(ids_of(page))


# Words whose casefold is not their lower case: the stored tsvector casefolds like queries.
CASEFOLD_WORDS = [
    "Straße",
    "Fußball",
    "ﬁlm",
    "ΟΔΟΣ",
    "λόγος",
    "STRASSE",
    "Ǆemal",
    "\uff57\uff49\uff44\uff45",
]  # the last: "wide", full width


@pytest.mark.parametrize("word", CASEFOLD_WORDS)
async def test_a_titles_own_word_finds_it(gql: Any, app: Any, word: str) -> None:
    seller = await register(gql, seller=True)
    tag = nonsense_word()
    auction = await publish(gql, seller, title=f"{tag} {word} poster", category="home/decor")
    await index(app, [auction])
    assert ids_of(await search(gql, q=f"{tag} poster")) == [auction]  # control
    for query in (f"{word} {tag}", f"{word.upper()} {tag}", f"{tag} {word}"):
        page = await search(gql, q=query)
        assert ids_of(page) == [auction], (word, query, page["totalCount"])


# Runs PostgreSQL's parser keeps whole (paths, hosts, e-mail addresses, URLs, versions,
# hyphenated words): each of their words, typed as a query word, finds the title.
JOINED = [
    ("zeiss lens/camera combo", "camera"),
    ("zeiss lens/camera combo", "lens"),
    ("leica.camera rangefinder", "camera"),
    ("sony walkman.de cassette", "walkman"),
    ("gift from shop@vintage.com ok", "vintage"),
    ("walnut_oak turntable", "walnut"),
    ("see https://example.org/brass/lamp now", "brass"),
    ("firmware v2.3.1 radio", "v2"),
    ("mid-century armchair", "century"),
    ("/usr/share/dolls house", "share"),
]


@pytest.mark.parametrize(("title", "word"), JOINED)
async def test_every_word_of_a_joined_title_finds_it(
    gql: Any, app: Any, title: str, word: str
) -> None:
    seller = await register(gql, seller=True)
    tag = nonsense_word()
    auction = await publish(gql, seller, title=f"{tag} {title}", category="home/decor")
    await index(app, [auction])
    for query in (f"{word} {tag}", f"{tag} {word}"):
        page = await search(gql, q=query)
        assert ids_of(page) == [auction], (title, query, page["totalCount"])
