"""Small builders shared by the trending and recommendation API tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tests.helpers import BID, PUBLISH, Account, create_auction

T = TypeVar("T")

TRENDING = """
query($first: Int, $category: String) {
  trendingAuctions(first: $first, category: $category) { id status }
}"""
RECOMMENDATIONS = """
query($first: Int) {
  recommendations(first: $first) {
    reason explanation
    auction { id status currentPrice { amount } item { title category } }
  }
  recommendedAuctions(first: $first) { id }
}"""
AUCTION = "query($id: ID!) { auction(id: $id) { id } }"
WATCH = "mutation($id: ID!) { watchAuction(auctionId: $id) { ok errors { code } } }"
UNWATCH = "mutation($id: ID!) { unwatchAuction(auctionId: $id) { ok errors { code } } }"
CANCEL = """mutation($id: ID!) { cancelAuction(auctionId: $id) {
  auction { status } errors { code } } }"""


def nonce() -> str:
    """A word no other test's titles have."""
    return "w" + uuid.uuid4().hex[:10]


async def live_auction(gql: Any, seller: Account, **overrides: Any) -> str:
    created = await create_auction(gql, seller, **overrides)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    return str(created["id"])


async def bid(gql: Any, who: Account, auction_id: str, amount: str) -> None:
    body = await gql(BID, {"id": auction_id, "amount": amount}, token=who.token)
    assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body


async def eventually(check: Callable[[], Awaitable[T]], limit: float = 10.0) -> T:
    """`check()`'s first truthy result, polled until `limit` seconds have passed."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)
