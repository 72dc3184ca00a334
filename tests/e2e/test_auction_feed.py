"""`auctionFeed(category)` over real sockets (uvicorn in its own process):
graphql-transport-ws, graphql-ws and server-sent events; and a saved search's match
pushed live on `myNotifications` by the server's matcher.

Each test first proves its subscription is live with probe listings (the feed is live
only: what is published before the server registered the subscriber never comes), then
publishes elsewhere and in the category: only the category's subtree arrives, drafts
never. The ending-soon job runs every 0.3 s here; an auction ending within
GAVEL_ENDING_SOON_SECONDS comes a second time when the job finds it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.search.postgres import PostgresSearchIndex
from devservers.app_server import app_server
from services.search.documents import load_documents
from settings import Settings
from storage.db import make_engine, make_session_factory
from tests.conftest import GQL
from tests.e2e.test_subscriptions import LEGACY_WS, PROTOCOLS, TRANSPORT_WS, socket
from tests.helpers import PUBLISH, Account, create_auction, iso, register

FEED = """
subscription($category: String) {
  auctionFeed(category: $category) { id status endsAt item { title category } }
}"""
SSE = "sse"
TRANSPORTS = [*PROTOCOLS, SSE]


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-feed-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_MIN_AUCTION_SECONDS": "2",
        "GAVEL_NOTIFICATION_JOB_INTERVAL": "0.3",
    }
    with app_server(env) as base:
        yield base


@pytest.fixture
async def gql(server: str) -> AsyncIterator[GQL]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        yield GQL(client)


class Feed:
    """One auctionFeed subscription on one transport: `next()` is the next payload."""

    def __init__(self, next_payload: Callable[[float], Any]) -> None:
        self._next = next_payload

    async def next(self, wait: float = 8.0) -> dict[str, Any]:
        payload: dict[str, Any] = await self._next(wait)
        return payload

    async def auction(self, wait: float = 8.0) -> dict[str, Any]:
        payload = await self.next(wait)
        assert not payload.get("errors"), payload
        auction: dict[str, Any] = payload["data"]["auctionFeed"]
        return auction


@asynccontextmanager
async def feed(server: str, transport: str, category: str | None) -> AsyncIterator[Feed]:
    variables = {"category": category}
    if transport == SSE:
        body = {"query": FEED, "variables": variables}
        async with (
            httpx.AsyncClient(base_url=server, timeout=30) as client,
            client.stream(
                "POST", "/graphql", json=body, headers={"accept": "text/event-stream"}
            ) as response,
        ):
            assert response.status_code == 200, await response.aread()
            lines = response.aiter_lines()

            async def next_sse(wait: float) -> Any:
                async def read() -> Any:
                    async for line in lines:
                        if line.startswith("data:") and line[5:].strip():
                            return json.loads(line[5:])
                    raise AssertionError("the event stream ended")

                return await asyncio.wait_for(read(), wait)

            yield Feed(next_sse)
        return
    async with socket(server, transport) as sock:
        await sock.subscribe("f", FEED, variables)

        async def next_ws(wait: float) -> Any:
            message = await sock.recv(wait)
            assert message.get("id") == "f", message
            if message["type"] in ("next", "data"):
                return message["payload"]
            payload = message.get("payload")
            errors = payload if isinstance(payload, list) else [payload]
            return {"errors": errors, "type": message["type"]}

        yield Feed(next_ws)


async def _publish(gql: GQL, seller: Account, **fields: Any) -> str:
    auction = await create_auction(gql, seller, **fields)
    body = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert body["data"]["publishAuction"]["errors"] == [], body
    auction_id: str = auction["id"]
    return auction_id


async def _live(gql: GQL, sub: Feed, seller: Account, category: str) -> None:
    """Publish probes in `category` until one arrives: the subscription is registered."""
    for _ in range(20):
        probe = await _publish(gql, seller, title="Probe listing", category=category)
        try:
            while (await sub.auction(wait=0.5))["id"] != probe:
                pass
            return
        except TimeoutError:
            continue
    raise AssertionError("the feed never delivered a probe")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_only_the_categorys_subtree_arrives(server, gql, transport):
    seller = await register(gql, seller=True)
    async with feed(server, transport, "music") as sub:
        await _live(gql, sub, seller, "music/vinyl")
        elsewhere = await _publish(gql, seller, title="Leica lens", category="cameras/lenses")
        draft = await create_auction(gql, seller, title="Draft guitar", category="music")
        wanted = await _publish(
            gql, seller, title="Fender Stratocaster 1972", category="music/instruments"
        )
        # NOTIFY arrives in commit order: what was published before `wanted` and was
        # going to arrive would have come first.
        got = await sub.auction()
        assert got["id"] == wanted, (got, elsewhere, draft["id"])
        assert got["status"] == "ACTIVE"
        assert got["item"] == {"title": "Fender Stratocaster 1972", "category": "music/instruments"}


async def test_without_a_category_every_category_arrives(server, gql):
    seller = await register(gql, seller=True)
    async with feed(server, TRANSPORT_WS, None) as sub:
        await _live(gql, sub, seller, "books/rare")
        first = await _publish(
            gql, seller, title="Penny Black stamp", category="collectibles/stamps"
        )
        second = await _publish(gql, seller, title="Road bike", category="sports/cycling")
        seen: list[str] = []
        while second not in seen:
            seen.append((await sub.auction())["id"])
        assert first in seen


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_auction_comes_again_when_it_is_ending_soon(server, gql, transport):
    seller = await register(gql, seller=True)
    async with feed(server, transport, "sports/golf") as sub:
        await _live(gql, sub, seller, "sports/golf")
        soon = await _publish(
            gql,
            seller,
            title="Golf putter",
            category="sports/golf",
            endsAt=iso(timedelta(minutes=5)),
        )
        seen: list[str] = []
        while seen.count(soon) < 2:  # published, then ending soon
            seen.append((await sub.auction())["id"])


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_unknown_category_is_refused_on_every_transport(server, transport):
    async with feed(server, transport, "no-such-category") as sub:
        payload = await sub.next()
        errors = payload["errors"]
        assert errors[0]["extensions"]["code"] == "UNKNOWN_CATEGORY", payload


NOTES = "subscription { myNotifications { kind auctionId message } }"
SAVE = """
mutation($input: SaveSearchInput!) {
  saveSearch(input: $input) { savedSearch { id } errors { code } }
}"""


async def test_a_saved_search_match_is_pushed_live_on_my_notifications(server, gql, settings):
    """The saved-search matcher of the server process tells the owner live. The test
    writes the listing's document itself (as the freshness indexer does) so it does not
    depend on which process indexes."""
    seller = await register(gql, seller=True)
    alice = await register(gql)
    body = await gql(
        SAVE, {"input": {"name": "kettles", "query": "enamel kettle"}}, token=alice.token
    )
    assert body["data"]["saveSearch"]["errors"] == [], body
    engine = make_engine(settings.database_url or "", pool_size=2)
    try:
        async with socket(server, LEGACY_WS, {"authorization": f"Bearer {alice.token}"}) as sock:
            await sock.subscribe("n", NOTES, {})
            auction_id = await _publish(gql, seller, title="Enamel kettle, blue", category="home")
            async with make_session_factory(engine)() as session:
                documents, _ = await load_documents(
                    session, [uuid.UUID(auction_id)], datetime.now(UTC)
                )
            await PostgresSearchIndex(engine).upsert(documents)
            payload = await sock.result("n", wait=15)
            assert payload["data"]["myNotifications"] == {
                "kind": "SAVED_SEARCH_MATCH",
                "auctionId": auction_id,
                "message": 'A new listing matches your saved search "kettles".',
            }
    finally:
        await engine.dispose()
