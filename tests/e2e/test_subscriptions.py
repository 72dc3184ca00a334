"""`auctionUpdated` over real sockets: uvicorn in its own process, hand-spoken protocols.

Both WebSocket protocols are spoken by hand (JSON messages) with the `websockets` client:
graphql-transport-ws (`subscribe`/`next`) and the legacy graphql-ws (`start`/`data`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devservers.app_server import app_server
from schema.app import SUBSCRIPTIONS_PER_CONNECTION
from services import moderation
from settings import Settings
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, Account, create_auction, iso, register

ROOT = Path(__file__).resolve().parents[2]
TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]

SUBSCRIBE = """
subscription($id: ID!, $since: Int) {
  auctionUpdated(auctionId: $id, sinceSequence: $since) {
    auctionId kind sequence currentPrice { amount currency } bidCount endsAt leaderId at
  }
}"""

NO_INIT = object()  # open a socket without sending connection_init


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-subs-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_MIN_AUCTION_SECONDS": "2",  # a sealed auction that ends within the test
    }
    with app_server(env) as base:
        yield base


@pytest.fixture
async def gql(server: str) -> AsyncIterator[GQL]:
    """The API tests' GQL callable, over HTTP to the subprocess server."""
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        yield GQL(client)


class Socket:
    """One WebSocket speaking either protocol by hand."""

    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, wait: float = 10.0) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            elif message["type"] != "ka":
                return message

    async def init(self, payload: Any = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        return await self.recv()

    async def subscribe(self, op: str, query: str, variables: dict[str, Any]) -> None:
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send(
            {"id": op, "type": kind, "payload": {"query": query, "variables": variables}}
        )

    async def result(self, op: str, wait: float = 10.0) -> dict[str, Any]:
        """The next result payload of `op` ({data, errors?}); completion is an error."""
        message = await self.recv(wait)
        assert message.get("id") == op, message
        if message["type"] in ("next", "data"):
            payload: dict[str, Any] = message["payload"]
            return payload
        raise AssertionError(f"expected a result, got {message}")

    async def event(self, op: str, wait: float = 10.0) -> dict[str, Any]:
        payload = await self.result(op, wait)
        assert not payload.get("errors"), payload
        event: dict[str, Any] = payload["data"]["auctionUpdated"]
        return event

    async def events(self, op: str, count: int) -> list[dict[str, Any]]:
        return [await self.event(op) for _ in range(count)]

    async def assert_quiet(self, seconds: float = 0.7) -> None:
        with pytest.raises(TimeoutError):
            message = await self.recv(wait=seconds)
            pytest.fail(f"unexpected message {message}")

    async def close_code(self, wait: float = 10.0) -> int | None:
        """Read until the server closes the socket; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), wait)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


@asynccontextmanager
async def socket(
    server: str, protocol: str, init: Any = None, *, expect_ack: bool = True
) -> AsyncIterator[Socket]:
    url = server.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[protocol], open_timeout=10) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == protocol
        sock = Socket(ws, protocol)
        if init is not NO_INIT and expect_ack:
            ack = await sock.init(init)
            assert ack["type"] == "connection_ack", ack
        yield sock


async def bid(gql: GQL, bidder: Account, auction_id: str, amount: str) -> dict[str, Any]:
    body = await gql(BID, {"id": auction_id, "amount": amount}, token=bidder.token)
    result: dict[str, Any] = body["data"]["placeBid"]
    assert result["__typename"] == "BidAccepted", result
    return result


async def live_auction(gql: GQL, seller: Account, **overrides: Any) -> str:
    auction = await create_auction(gql, seller, **overrides)
    body = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert body["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", body
    auction_id: str = auction["id"]
    return auction_id


def assert_matches(event: dict[str, Any], accepted: dict[str, Any]) -> None:
    """An English BID_ACCEPTED event says what the placeBid answer said."""
    assert event["kind"] == "BID_ACCEPTED"
    assert event["sequence"] == accepted["bid"]["sequence"]
    auction = accepted["auction"]
    assert event["auctionId"] == auction["id"]
    assert event["bidCount"] == auction["bidCount"]
    assert event["currentPrice"]["amount"] == auction["currentPrice"]["amount"]
    assert event["currentPrice"]["currency"] == "USD"
    assert event["leaderId"] == auction["leader"]["id"]


def sequences(events: list[dict[str, Any]]) -> list[int]:
    return [e["sequence"] for e in events]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_replay_live_resume_without_gap_or_duplicate(server, gql, protocol):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    placed = [
        await bid(gql, alice, auction_id, "100"),
        await bid(gql, bob, auction_id, "200"),
    ]

    async with socket(server, protocol) as sock:  # anonymous: no connection_init payload
        await sock.subscribe("1", SUBSCRIBE, {"id": auction_id, "since": 0})
        seen = await sock.events("1", 2)  # replayed
        placed.append(await bid(gql, alice, auction_id, "300"))
        seen.append(await sock.event("1"))  # live
        await sock.assert_quiet()
    assert sequences(seen) == [1, 2, 3]
    for event, accepted in zip(seen, placed, strict=True):
        assert_matches(event, accepted)

    # Missed while disconnected: replayed exactly once, then live, gapless.
    placed.append(await bid(gql, bob, auction_id, "400"))
    placed.append(await bid(gql, alice, auction_id, "500"))
    async with socket(server, protocol) as sock:
        await sock.subscribe("resume", SUBSCRIBE, {"id": auction_id, "since": seen[-1]["sequence"]})
        resumed = await sock.events("resume", 2)
        placed.append(await bid(gql, bob, auction_id, "600"))
        resumed.append(await sock.event("resume"))
        await sock.assert_quiet()
    assert sequences(resumed) == [4, 5, 6]
    for event, accepted in zip(resumed, placed[3:], strict=True):
        assert_matches(event, accepted)


SMALL = """
subscription($id: ID!) { auctionUpdated(auctionId: $id, sinceSequence: 0) { sequence kind } }"""


async def test_subscribers_share_one_encoding_but_keep_their_own_ids(server, gql):
    """Results of one document are encoded once and spliced into each subscriber's message:
    every subscriber still gets its own operation id (JSON-escaped), its protocol's message
    type, and the fields of its own document."""
    seller = await register(gql, seller=True)
    alice = await register(gql)
    auction_id = await live_auction(gql, seller)
    ops = ['quote " and \\ backslash', "plain", "ünïcode"]
    async with (
        socket(server, TRANSPORT_WS) as a,
        socket(server, TRANSPORT_WS) as b,
        socket(server, LEGACY_WS) as c,
        socket(server, TRANSPORT_WS) as small,
    ):
        for sock, op in zip((a, b, c), ops, strict=True):
            await sock.subscribe(op, SUBSCRIBE, {"id": auction_id, "since": 0})
        await small.subscribe("s", SMALL, {"id": auction_id})
        accepted = await bid(gql, alice, auction_id, "100")
        messages = [await sock.recv() for sock in (a, b, c)]
        assert [m["id"] for m in messages] == ops
        assert [m["type"] for m in messages] == ["next", "next", "data"]
        assert messages[0]["payload"] == messages[1]["payload"] == messages[2]["payload"]
        assert_matches(messages[0]["payload"]["data"]["auctionUpdated"], accepted)
        assert await small.event("s") == {"sequence": 1, "kind": "BID_ACCEPTED"}


async def test_subscription_over_server_sent_events_replays_then_goes_live(server, gql):
    """Off a WebSocket (strawberry's server-sent events over HTTP) events take the queued
    path through strawberry instead of being written to a socket directly."""
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    placed = [await bid(gql, alice, auction_id, "100")]
    body = {"query": SUBSCRIBE, "variables": {"id": auction_id, "since": 0}}
    seen: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=server, timeout=10) as client,
        client.stream(
            "POST", "/graphql", json=body, headers={"accept": "text/event-stream"}
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if not line.startswith("data:") or "auctionUpdated" not in line:
                continue
            seen.append(json.loads(line[5:])["data"]["auctionUpdated"])
            if len(seen) == 1:  # replayed; the next one comes live
                placed.append(await bid(gql, bob, auction_id, "200"))
            else:
                break
    assert sequences(seen) == [1, 2]
    for event, accepted in zip(seen, placed, strict=True):
        assert_matches(event, accepted)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_per_connection_are_limited(server, gql, protocol):
    """SPEC: limits on subscriptions per connection: 100 running operations per socket
    (schema/app.py SUBSCRIPTIONS_PER_CONNECTION), on both protocols."""
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    async with socket(server, protocol) as sock:
        for op in range(SUBSCRIPTIONS_PER_CONNECTION):
            await sock.subscribe(str(op), SMALL, {"id": auction_id})
        await sock.subscribe("one too many", SMALL, {"id": auction_id})
        refusal = await sock.recv()
        assert refusal["id"] == "one too many" and refusal["type"] == "error", refusal
        payload = refusal["payload"]
        [error] = payload if isinstance(payload, list) else [payload]
        assert "limit" in error["message"].lower()


async def test_without_since_sequence_only_new_events(server, gql):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    await bid(gql, alice, auction_id, "100")
    await bid(gql, bob, auction_id, "200")
    bidders, amount = [bob, alice], 200
    async with socket(server, TRANSPORT_WS) as sock:
        await sock.subscribe("1", SUBSCRIBE, {"id": auction_id})
        # The protocol has no "subscribed" signal: bid until the first event shows up.
        first = None
        for _ in range(20):
            amount += 100
            await bid(gql, bidders[amount // 100 % 2], auction_id, str(amount))
            try:
                first = await sock.event("1", wait=0.5)
                break
            except TimeoutError:
                continue
        assert first is not None, "no live event arrived"
        assert first["sequence"] >= 3  # nothing before the subscription is replayed
        last = first["sequence"]
        while last < amount // 100:  # bid N*100 has sequence N: drain what is in flight
            event = await sock.event("1")
            assert event["sequence"] == last + 1
            last = event["sequence"]
        amount += 100
        await bid(gql, bidders[amount // 100 % 2], auction_id, str(amount))
        assert (await sock.event("1"))["sequence"] == last + 1
        await sock.assert_quiet()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sealed_events_hide_amounts_until_the_end(server, gql, protocol):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(
        gql,
        seller,
        type="SEALED_FIRST_PRICE",
        startingPrice="10",
        endsAt=iso(timedelta(seconds=4)),
    )
    async with socket(server, protocol) as sock:
        await sock.subscribe("s", SUBSCRIBE, {"id": auction_id, "since": 0})
        await bid(gql, alice, auction_id, "50")
        await bid(gql, bob, auction_id, "75")
        await bid(gql, alice, auction_id, "60")  # replaces alice's 50
        events = await sock.events("s", 3)
        ended = await sock.event("s", wait=20)  # the scheduler closes it
    assert sequences(events) == [1, 2, 3]
    for event in events:
        assert event["kind"] == "BID_ACCEPTED"
        assert event["currentPrice"] is None and event["leaderId"] is None
    assert ended["kind"] == "ENDED" and ended["sequence"] == 4
    # After the end the outcome is public (SPEC §3): the highest sealed bid wins.
    assert ended["currentPrice"] == {"amount": "75.00", "currency": "USD"}
    assert ended["leaderId"] == bob.id

    # A replay of the ended auction tells the same story, amounts still hidden before the end.
    async with socket(server, protocol) as sock:
        await sock.subscribe("again", SUBSCRIBE, {"id": auction_id, "since": 0})
        replayed = await sock.events("again", 4)
        await sock.assert_quiet()
    assert replayed == [*events, ended]


async def test_replay_reads_postgresql_for_what_redis_no_longer_has(server, gql, settings):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    placed = [
        await bid(gql, alice, auction_id, "100"),
        await bid(gql, bob, auction_id, "200"),
        await bid(gql, alice, auction_id, "300"),
    ]
    db = await asyncpg.connect(
        (settings.database_url or "").replace("postgresql+asyncpg://", "postgresql://")
    )
    redis = aioredis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        for _ in range(100):  # the persister copies the stream to PostgreSQL
            count = await db.fetchval(
                "SELECT count(*) FROM auction_events WHERE auction_id = $1", uuid.UUID(auction_id)
            )
            if count == 3:
                break
            await asyncio.sleep(0.1)
        assert count == 3
        # The stream loses its oldest entries (as if trimmed): 1 and 2 come from PostgreSQL.
        assert await redis.xdel(f"gavel:{{{auction_id}}}:events", "1-0", "2-0") == 2
    finally:
        await db.close()
        await redis.aclose()

    async with socket(server, TRANSPORT_WS) as sock:
        await sock.subscribe("pg", SUBSCRIBE, {"id": auction_id, "since": 0})
        seen = await sock.events("pg", 3)
        placed.append(await bid(gql, bob, auction_id, "400"))
        seen.append(await sock.event("pg"))
        await sock.assert_quiet()
    assert sequences(seen) == [1, 2, 3, 4]
    for event, accepted in zip(seen, placed, strict=True):
        assert_matches(event, accepted)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_or_draft_auction_is_not_found(server, gql, protocol):
    seller = await register(gql, seller=True)
    draft = await create_auction(gql, seller)
    # Even its own seller cannot subscribe to a draft: it has no events to give.
    async with socket(server, protocol, {"authorization": f"Bearer {seller.token}"}) as sock:
        for op, auction_id in (("unknown", str(uuid.uuid4())), ("draft", draft["id"])):
            await sock.subscribe(op, SUBSCRIBE, {"id": auction_id})
            message = await sock.recv()
            assert message["id"] == op and message["type"] in ("next", "data", "error"), message
            payload = message["payload"]
            errors = payload if isinstance(payload, list) else payload["errors"]
            assert errors[0]["extensions"]["code"] == "NOT_FOUND", message
            assert "auction" in errors[0]["message"]
            done = await sock.recv()
            assert done == {"type": "complete", "id": op}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_init_authenticates(server, gql, protocol):
    user = await register(gql)
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    async with socket(server, protocol, {"authorization": f"Bearer {user.token}"}) as sock:
        await sock.subscribe("1", SUBSCRIBE, {"id": auction_id, "since": 0})
        await bid(gql, user, auction_id, "100")
        assert (await sock.event("1"))["leaderId"] == user.id


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_null_connection_init_payload_is_anonymous(server, gql, protocol):
    # graphql-transport-ws: `payload?: Record<string, unknown> | null`.
    async with socket(server, protocol, NO_INIT) as sock:
        await sock.send({"type": "connection_init", "payload": None})
        assert (await sock.recv())["type"] == "connection_ack"
        seller = await register(gql, seller=True)
        auction_id = await live_auction(gql, seller)
        await sock.subscribe("1", SUBSCRIBE, {"id": auction_id, "since": 0})
        await sock.assert_quiet()


async def refused(sock: Socket, authorization: Any) -> tuple[int | None, dict[str, Any] | None]:
    """Send a connection_init with this authorization; the close code and the legacy
    protocol's `connection_error` payload (graphql-transport-ws has no such message)."""
    await sock.send({"type": "connection_init", "payload": {"authorization": authorization}})
    error = None
    if sock.protocol == LEGACY_WS:
        message = await sock.recv()
        assert message["type"] == "connection_error", message
        error = message["payload"]
    return await sock.close_code(), error


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("authorization", ["Bearer not-a-jwt", "Basic dXNlcjpwdw==", "Bearer ", 42])
async def test_rejected_token_closes_with_4401(server, protocol, authorization):
    async with socket(server, protocol, NO_INIT) as sock:
        code, error = await refused(sock, authorization)
    assert code == 4401
    assert error is None or error["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_banned_account_closes_with_4403(server, gql, app, protocol):
    user = await register(gql)
    # The ban use case writes the row and the account's state in Redis, which the server
    # process authenticates from (realtime/account_states.py).
    await moderation.set_banned(app.state.deps, uuid.UUID(user.id), True)
    async with socket(server, protocol, NO_INIT) as sock:
        code, error = await refused(sock, f"Bearer {user.token}")
    assert code == 4403
    assert error is None or error["code"] == "ACCOUNT_BANNED"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscribe_before_connection_init_is_refused(server, gql, protocol):
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    async with socket(server, protocol, NO_INIT) as sock:
        await sock.subscribe("early", SUBSCRIBE, {"id": auction_id, "since": 0})
        assert await sock.close_code() == 4401


class FakeSubscription:
    """A bus subscription the test feeds by hand: events (JSON text) or exceptions."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self) -> Any:
        item = await self.items.get()
        if isinstance(item, Exception):
            raise item
        return item


class FakeHub:
    def __init__(self) -> None:
        self.subscription = FakeSubscription()
        self.subscribed: list[str] = []

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[FakeSubscription]:
        self.subscribed.append(channel)
        yield self.subscription


async def test_stream_fills_gaps_drops_duplicates_resyncs_and_cuts_off_slow_consumers(
    server, gql, app
):
    """The stream logic against the real Redis stream, with the bus played by the test."""
    from broadcaster import Event

    from domain.events import public_event
    from realtime.broadcast import Resync, SlowConsumer
    from realtime.feed import auction_events
    from realtime.stream import EventSource, SubscriberTooSlow
    from services import catalog

    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    await bid(gql, alice, auction_id, "100")
    await bid(gql, bob, auction_id, "200")

    deps = app.state.deps
    auction = await catalog.get_auction(deps, None, uuid.UUID(auction_id))
    assert auction is not None
    hub = FakeHub()
    stream = auction_events(EventSource(deps.slots, deps.uow, hub), auction, 0)

    async def live(seq: int) -> None:
        raw = (await deps.slots.events_since(auction_id, seq - 1, count=1))[0]
        await hub.subscription.items.put(
            Event(f"auction:{auction_id}", json.dumps(public_event(raw, auction_id, sealed=False)))
        )

    async def next_seq() -> int:
        return (await asyncio.wait_for(anext(stream), 10)).sequence

    try:
        assert [await next_seq(), await next_seq()] == [1, 2]  # replay
        assert hub.subscribed == [f"auction:{auction_id}"]
        await bid(gql, alice, auction_id, "300")
        await bid(gql, bob, auction_id, "400")
        await live(4)  # 3 never came live: a gap, filled from the stream
        assert [await next_seq(), await next_seq()] == [3, 4]
        await live(3)  # duplicates are dropped
        await live(4)
        await bid(gql, alice, auction_id, "500")
        await hub.subscription.items.put(Resync("reconnected"))  # 5 was lost in a reconnect
        assert await next_seq() == 5
        await live(5)
        await bid(gql, bob, auction_id, "600")
        await live(6)
        assert await next_seq() == 6
        await hub.subscription.items.put(SlowConsumer("behind"))
        with pytest.raises(SubscriberTooSlow) as cut_off:
            await next_seq()
        assert cut_off.value.code == "SLOW_CONSUMER" and "sinceSequence: 6" in cut_off.value.message
    finally:
        await stream.aclose()
