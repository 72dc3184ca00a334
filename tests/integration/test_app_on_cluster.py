"""The whole app on Redis Cluster (SPEC section 4: "… one Lua script decides a bid
atomically, also on Redis Cluster"; section 5: fan-out so every app process delivers
every event).

`create_app` with `GAVEL_REDIS_CLUSTER=true` runs against a three-master Valkey cluster
(`EmbeddedCluster`) and a fresh PostgreSQL database of the test stack. Over GraphQL a
seller lists an English auction with proxy bids, a Vickrey and a Dutch auction; two
bidders bid; the app's own scheduler steps the Dutch price and closes the others; its
persister writes bids, events and outcomes to PostgreSQL. Along the way: readiness pings
every node, a bus subscriber connected to *another* node than the app's receives the
events (the cluster forwards PUBLISH), the subscription stream replays the auction from
its cluster-side stream, the global agenda keys (`gavel:live`, `gavel:ends`,
`gavel:dutch`, each in its own slot) are emptied once the auctions are stored, and the
persister's many stream reads never cost redis-py a COMMAND GETKEYS round trip.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.asyncio.cluster import RedisCluster

from devservers.cluster import EmbeddedCluster
from devservers.stack import StackUrls
from gavel_app import create_app
from realtime.broadcast import BoundedBroadcast
from realtime.events import channel
from realtime.slots import DUTCH_SET, ENDS_ZSET, LIVE_SET, keys
from realtime.stream import EventSource, backlog
from settings import Settings
from tests.conftest import GQL, create_database, migrate
from tests.helpers import BID, PUBLISH, Account, create_auction, iso, register

pytestmark = pytest.mark.slow

AUCTION = """query($id: ID!) { auction(id: $id) {
  status outcome bidCount currentPrice { amount } finalPrice { amount } winner { id } endsAt
} }"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(tmp_path_factory.mktemp("app-cluster")) as embedded:
        yield embedded


@pytest.fixture(scope="module")
async def cluster_settings(
    stack: StackUrls, cluster: EmbeddedCluster, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    # A database of its own: the session app's scheduler must not see these auctions (it
    # would rebuild their slots in the single-node Redis and close them there too).
    database = await create_database(stack.database_url, f"gavel_cluster_{uuid.uuid4().hex[:8]}")
    await migrate(database)
    return Settings(
        DATABASE_URL=database,
        REDIS_URL=cluster.urls[0],
        GAVEL_REDIS_CLUSTER=True,
        GAVEL_JWT_SECRET=secrets.token_urlsafe(48),
        GAVEL_DATA_DIR=tmp_path_factory.mktemp("cluster-data"),
        GAVEL_MIN_AUCTION_SECONDS=2,
    )


@pytest.fixture(scope="module")
async def cluster_app(cluster_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(cluster_settings, fast_hash=True)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def cluster_gql(cluster_app: FastAPI) -> AsyncIterator[GQL]:
    transport = httpx.ASGITransport(app=cluster_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        yield GQL(client)


@pytest.fixture(scope="module")
async def pg(cluster_settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    url = (cluster_settings.database_url or "").replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def live_auction(gql: GQL, seller: Account, **listing: Any) -> str:
    created = await create_auction(gql, seller, **listing)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    return str(created["id"])


async def bid(
    gql: GQL, who: Account, auction_id: str, amount: str, max_amount: str | None = None
) -> dict[str, Any]:
    body = await gql(BID, {"id": auction_id, "amount": amount, "max": max_amount}, token=who.token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["placeBid"]
    assert result["__typename"] == "BidAccepted", result
    return result


async def state(gql: GQL, auction_id: str) -> dict[str, Any]:
    body = await gql(AUCTION, {"id": auction_id})
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["auction"]
    return found


async def stored_when_ended(pg: asyncpg.Connection, auction_id: str, limit: float = 15.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        row = await pg.fetchrow(
            "SELECT status, outcome, winner_id, final_price, last_sequence, bid_count"
            " FROM auctions WHERE id = $1",
            uuid.UUID(auction_id),
        )
        if row is not None and row["status"] == "ENDED":
            return row
        assert time.monotonic() < deadline, f"auction {auction_id} not stored as ENDED: {row}"
        await asyncio.sleep(0.1)


async def stored_events(pg: asyncpg.Connection, auction_id: str) -> list[tuple[int, str]]:
    rows = await pg.fetch(
        "SELECT sequence, kind FROM auction_events WHERE auction_id = $1 ORDER BY sequence",
        uuid.UUID(auction_id),
    )
    return [(r["sequence"], r["kind"]) for r in rows]


async def calls_per_node(cluster: EmbeddedCluster, command: str) -> list[int]:
    """How often each node served `command` (e.g. `command|getkeys`) since the last reset;
    then resets the counters."""
    calls = []
    for url in cluster.urls:
        node = aioredis.from_url(url, decode_responses=True)
        try:
            stats = await node.info("commandstats")
            calls.append(int(stats.get(f"cmdstat_{command}", {}).get("calls", 0)))
            await node.config_resetstat()
        finally:
            await node.aclose()
    return calls


async def test_the_app_bids_closes_and_persists_on_a_redis_cluster(
    cluster: EmbeddedCluster,
    cluster_app: FastAPI,
    cluster_gql: GQL,
    pg: asyncpg.Connection,
):
    redis = cluster_app.state.redis
    assert isinstance(redis, RedisCluster)
    assert redis.retry.get_retries() == 0  # a bid whose reply was lost is never re-sent
    transport = httpx.ASGITransport(app=cluster_app)
    await calls_per_node(cluster, "ping")
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["redis"] == "ok", ready.text
    assert all(await calls_per_node(cluster, "ping")), "readiness did not ask every master"
    # The bus can move to any node when the one in REDIS_URL is lost.
    assert sorted(cluster_app.state.bus.backend.urls) == sorted(cluster.urls)

    # redis-py sends COMMAND GETKEYS (a round trip) to locate the keys of a command whose
    # key positions vary; counted from here on.
    await calls_per_node(cluster, "command|getkeys")
    gql = cluster_gql
    seller = await register(gql, seller=True)
    a, b = await register(gql), await register(gql)
    soon = iso(timedelta(seconds=3))
    english = await live_auction(
        gql,
        seller,
        startingPrice="10",
        endsAt=soon,
        softCloseWindowSeconds=0,
        softCloseExtensionSeconds=0,
    )
    vickrey = await live_auction(
        gql, seller, type="SEALED_SECOND_PRICE", startingPrice="5", endsAt=soon
    )
    dutch = await live_auction(
        gql,
        seller,
        type="DUTCH",
        startingPrice="100",
        dutchStep="10",
        dutchStepSeconds=1,
        dutchFloor="50",
        endsAt=iso(timedelta(seconds=30)),
    )
    ids = (english, vickrey, dutch)
    # The agenda's global keys sit in other slots than the auctions' keys; every command
    # on them touches one key, so the cluster routes each on its own.
    assert set(await redis.smembers(LIVE_SET)) == set(ids)
    assert set(await redis.zrange(ENDS_ZSET, 0, -1)) == set(ids)
    assert set(await redis.smembers(DUTCH_SET)) == {dutch}

    # A subscriber on another node than the app's bus (REDIS_URL is node 0).
    elsewhere = BoundedBroadcast(cluster.urls[1])
    await elsewhere.connect()
    heard: list[dict[str, Any]] = []
    try:
        async with elsewhere.subscribe(channel(english)) as subscription:

            async def listen() -> None:
                while True:
                    heard.append(orjson.loads((await subscription.get()).message))
                    if heard[-1]["kind"] == "ENDED":
                        return

            listener = asyncio.create_task(listen())
            first = await bid(gql, a, english, "10", "30")
            assert first["leading"] is True and first["bid"]["sequence"] == 1
            under = await bid(gql, b, english, "15")  # below a's ceiling: a keeps the lead
            assert under["leading"] is False
            assert under["auction"]["currentPrice"]["amount"] == "15.50"
            over = await bid(gql, b, english, "20", "50")  # above it: b leads at 30 + 1
            assert over["leading"] is True and over["auction"]["currentPrice"]["amount"] == "31.00"
            last = await bid(gql, a, english, "35")
            assert last["leading"] is False and last["auction"]["currentPrice"]["amount"] == "36.00"
            assert last["bid"]["sequence"] == 4

            assert (await bid(gql, a, vickrey, "20"))["leading"] is False
            assert (await bid(gql, b, vickrey, "25"))["bid"]["sequence"] == 2

            # The scheduler's ticker publishes the step (reads compute the price anyway).
            deadline = time.monotonic() + 10
            while not await cluster_app.state.slots.events_since(dutch, 0):
                assert time.monotonic() < deadline, "no Dutch price step was published"
                await asyncio.sleep(0.1)
            won = await bid(gql, a, dutch, "100")
            assert won["auction"]["status"] == "ENDED"
            dutch_price = won["bid"]["amount"]["amount"]
            assert dutch_price != "100.00"  # the clock's price, not the amount sent

            await asyncio.wait_for(listener, 15)
    finally:
        await elsewhere.disconnect()
    assert [(e["seq"], e["kind"]) for e in heard] == [
        (1, "BID_ACCEPTED"),
        (2, "BID_ACCEPTED"),
        (3, "BID_ACCEPTED"),
        (4, "BID_ACCEPTED"),
        (5, "ENDED"),
    ]

    # PostgreSQL: bids, gapless events and each outcome, written by the persister.
    row = await stored_when_ended(pg, english)
    assert (row["outcome"], str(row["winner_id"]), row["final_price"]) == ("SOLD", b.id, 3600)
    assert (row["last_sequence"], row["bid_count"]) == (5, 4)
    assert await stored_events(pg, english) == [(n, "BID_ACCEPTED") for n in range(1, 5)] + [
        (5, "ENDED")
    ]
    bids = await pg.fetch(
        "SELECT sequence, bidder_id, amount, max_amount FROM bids"
        " WHERE auction_id = $1 ORDER BY sequence",
        uuid.UUID(english),
    )
    assert [(r["sequence"], str(r["bidder_id"]), r["amount"], r["max_amount"]) for r in bids] == [
        (1, a.id, 1000, 3000),
        (2, b.id, 1500, 1500),
        (3, b.id, 2000, 5000),
        (4, a.id, 3500, 3500),
    ]
    row = await stored_when_ended(pg, vickrey)
    assert (row["outcome"], str(row["winner_id"]), row["final_price"]) == ("SOLD", b.id, 2000)
    assert await stored_events(pg, vickrey) == [
        (1, "BID_ACCEPTED"),
        (2, "BID_ACCEPTED"),
        (3, "ENDED"),
    ]
    row = await stored_when_ended(pg, dutch)
    assert (row["outcome"], str(row["winner_id"])) == ("SOLD", a.id)
    assert row["final_price"] == int(dutch_price.replace(".", ""))
    kinds = [kind for _, kind in await stored_events(pg, dutch)]
    assert kinds[-2:] == ["BID_ACCEPTED", "ENDED"] and set(kinds[:-2]) == {"PRICE_STEP"}
    assert [n for n, _ in await stored_events(pg, dutch)] == list(range(1, len(kinds) + 1))

    # The API answers from PostgreSQL now, and the agenda is empty again.
    ended = await state(gql, english)
    assert (ended["status"], ended["outcome"], ended["winner"]["id"]) == ("ENDED", "SOLD", b.id)
    assert ended["finalPrice"]["amount"] == "36.00"
    assert (await state(gql, vickrey))["finalPrice"]["amount"] == "20.00"
    deadline = time.monotonic() + 10
    while await redis.smembers(LIVE_SET) or await redis.zrange(ENDS_ZSET, 0, -1):
        assert time.monotonic() < deadline, "finished auctions stay on the agenda"
        await asyncio.sleep(0.1)
    assert await redis.smembers(DUTCH_SET) == set()
    # The persister reads every stream through its consumer group many times a second;
    # none of those reads may cost an extra round trip to locate the stream's slot.
    assert sum(await calls_per_node(cluster, "command|getkeys")) == 0

    # Subscriptions replay what a client missed from the auction's stream, which lives on
    # the auction's own node.
    source = EventSource(cluster_app.state.slots, cluster_app.state.deps.uow, cluster_app.state.bus)
    for after in (0, 2):
        async with aclosing(backlog(source, uuid.UUID(english), after)) as events:
            replayed = [(e.sequence, e.kind.value) async for e in events]
        stored = [(n, kind) for n, kind in await stored_events(pg, english) if n > after]
        assert replayed == stored, after
    assert len({await redis.cluster_keyslot(k) for k in keys(english)}) == 1
