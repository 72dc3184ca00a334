"""`trendingAuctions(first, category)`: bids (once persisted), watches and de-duplicated
views raise an auction; ended and cancelled ones leave; bad arguments change nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.api.discovery_kit import (
    AUCTION,
    CANCEL,
    TRENDING,
    UNWATCH,
    WATCH,
    bid,
    eventually,
    live_auction,
)
from tests.helpers import register


async def ranked(gql, category: str | None, ours: list[str]) -> list[str]:
    body = await gql(TRENDING, {"first": 50, "category": category})
    assert "errors" not in body, body
    listed = [a["id"] for a in body["data"]["trendingAuctions"]]
    return [a for a in listed if a in ours]


async def score(app, auction_id: str) -> float:
    scores = await app.state.deps.activity.store.scores(None, datetime.now(UTC).timestamp())
    return float(scores.get(uuid.UUID(auction_id), 0.0))


async def test_persisted_bids_raise_an_auction_in_its_category_and_ancestors(gql):
    seller, first, second = (
        await register(gql, seller=True),
        await register(gql),
        await register(gql),
    )
    quiet = await live_auction(gql, seller, category="coins/bullion")
    busy = await live_auction(gql, seller, category="coins/bullion")
    ours = [quiet, busy]
    await bid(gql, first, quiet, "100")
    await bid(gql, first, busy, "100")
    await bid(gql, second, busy, "120")

    async def busy_first() -> bool:
        return await ranked(gql, "coins", ours) == [busy, quiet]

    assert await eventually(busy_first)
    assert await ranked(gql, "coins/bullion", ours) == [busy, quiet]
    # Across all categories the session's other tests' auctions may push the one-bid
    # auction out of the first 50; the busier one still ranks above it.
    everywhere = await ranked(gql, None, ours)
    assert everywhere in ([busy, quiet], [busy])
    assert await ranked(gql, "coins/world", ours) == []
    assert await ranked(gql, "art", ours) == []


async def test_views_count_once_per_viewer_and_never_the_sellers(gql, app):
    seller, viewer = await register(gql, seller=True), await register(gql)
    auction = await live_auction(gql, seller)
    weight = app.state.deps.activity.store.policy.view_weight
    for _ in range(3):  # reloads
        assert (await gql(AUCTION, {"id": auction}, token=viewer.token))["data"]["auction"]
        assert (await gql(AUCTION, {"id": auction}, token=seller.token))["data"]["auction"]
    assert await score(app, auction) == pytest.approx(weight, rel=0.01)
    # An anonymous viewer counts once per client address.
    for _ in range(2):
        assert (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert await score(app, auction) == pytest.approx(2 * weight, rel=0.01)


async def test_a_watch_counts_once_even_after_unwatching(gql, app):
    seller, fan = await register(gql, seller=True), await register(gql)
    auction = await live_auction(gql, seller)
    weight = app.state.deps.activity.store.policy.watch_weight
    for document in (WATCH, UNWATCH, WATCH, WATCH):
        body = await gql(document, {"id": auction}, token=fan.token)
        assert "errors" not in body, body
    assert await score(app, auction) == pytest.approx(weight, rel=0.01)


async def test_a_cancelled_auction_leaves_the_lists(gql, app):
    seller, fan = await register(gql, seller=True), await register(gql)
    auction = await live_auction(gql, seller, category="coins/world")
    await gql(WATCH, {"id": auction}, token=fan.token)
    assert await ranked(gql, "coins/world", [auction]) == [auction]
    body = await gql(CANCEL, {"id": auction}, token=seller.token)
    assert body["data"]["cancelAuction"]["auction"]["status"] == "CANCELLED", body

    async def gone() -> bool:
        return await ranked(gql, "coins/world", [auction]) == [] and (
            await ranked(gql, None, [auction]) == []
        )

    assert await eventually(gone)
    assert await score(app, auction) == 0.0  # pruned from the sets, not only hidden


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"category": "nope"}, "UNKNOWN_CATEGORY"),
        ({"first": -1}, "INVALID_PAGE_SIZE"),
        ({"first": 100_000}, "INVALID_PAGE_SIZE"),
    ],
)
async def test_bad_arguments_are_client_errors(gql, variables, code):
    body = await gql(TRENDING, variables)
    assert body["errors"][0]["extensions"]["code"] == code, body
    assert body["data"] is None
