"""Faults degrade gracefully (issue 12 item 11): the real server, its real PostgreSQL and
Valkey, stopped in the middle of requests.

The app runs under uvicorn with a PostgreSQL and a Valkey of its own (this module stops
and restarts them; the session's servers stay untouched). Its Redis connections pass
through a TCP proxy (tests/faultproxy.py) that can lose one reply after Redis ran the
command. Bidders keep bidding while the faults happen; every answer must be JSON, and
every error either a client's own or `UNAVAILABLE` with a `retryAfter`: never a raw 500,
never `INTERNAL`.

- PostgreSQL down: bids on an active auction are still accepted (authentication comes
  from the token and the account state in Redis, the decision from the slot), requests
  that need PostgreSQL answer UNAVAILABLE (503 + Retry-After when nothing could run),
  and the bids accepted meanwhile reach PostgreSQL once it is back.
- Valkey restarted and every connection killed: the next bid succeeds; a bid whose reply
  was lost after the script ran is applied once.
- Valkey down: bids answer UNAVAILABLE; bidding resumes when it is back.

The first bid warms the app's per-process auction facts cache; the bid path then needs no
PostgreSQL for the auction either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devservers.app_server import app_server
from devservers.ports import free_port
from devservers.postgres import EmbeddedPostgres
from devservers.redis import EmbeddedRedis, ping
from domain.pricing import increment
from realtime.account_states import key as account_key
from realtime.slots import keys
from tests.conftest import migrate
from tests.faultproxy import FaultProxy
from tests.helpers import BECOME_SELLER, BID, CREATE, PASSWORD, PUBLISH, REGISTER

pytestmark = pytest.mark.slow

# Compiled by the fast bid path (schema/compiled_bid.py).
FAST_BID = """
mutation($id: ID!, $amount: Decimal!) {
  placeBid(auctionId: $id, amount: $amount) {
    __typename
    ... on BidAccepted { leading bid { sequence amount { amount } } }
    ... on BidRejected { reason minimumNextBid { amount } }
  }
}"""
ME = "query { me { user { id username roles } email emailVerified } }"
BROWSE = "query { auctions(first: 3) { edges { node { id } } } }"
SUBSCRIBE = """
subscription($id: ID!) { auctionUpdated(auctionId: $id, sinceSequence: 0) { sequence } }"""
CATCH_UP = 30.0


@dataclass
class Account:
    id: str
    token: str


@dataclass
class Stack:
    base: str
    pg: EmbeddedPostgres
    redis_server: EmbeddedRedis
    proxy: FaultProxy
    dsn: str
    seller: Account
    bidders: list[Account]
    auction_id: str = ""
    accepted: dict[int, str] = field(default_factory=dict)  # sequence -> bidder id
    answers: dict[str, int] = field(default_factory=dict)  # how the storm was answered


def checked(response: httpx.Response) -> dict[str, Any]:
    """The response is JSON; its errors are UNAVAILABLE (with retryAfter) or a client's."""
    assert response.status_code in (200, 503), (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    for error in body.get("errors") or []:
        extensions = error.get("extensions") or {}
        assert extensions.get("code") not in (None, "INTERNAL"), body
        if extensions["code"] == "UNAVAILABLE":
            assert isinstance(extensions.get("retryAfter"), int), body
            assert extensions["retryAfter"] > 0, body
    if response.status_code == 503:
        assert int(response.headers["retry-after"]) > 0
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAVAILABLE"], body
        assert "data" not in body
    return body


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors") or []}


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str = ""
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def register(http: httpx.AsyncClient, *, seller: bool = False) -> Account:
    name = f"o{uuid.uuid4().hex[:10]}"
    variables = {"input": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}}
    data = checked(await post(http, REGISTER, variables))["data"]["register"]
    assert data["errors"] == [], data
    account = Account(data["user"]["id"], data["accessToken"])
    if seller:
        result = checked(await post(http, BECOME_SELLER, token=account.token))
        assert result["data"]["becomeSeller"]["ok"], result
    return account


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    logs = tmp_path_factory.mktemp("outage-logs")
    with tempfile.TemporaryDirectory(prefix="gavel-outage-") as tmp, ExitStack() as servers:
        root = Path(tmp)
        # Durable: the test stops it with `-m immediate`, and a commit the persister saw
        # (and acknowledged in Redis) must survive that, as in production.
        pg = EmbeddedPostgres(root / "pg", free_port(), durable=True)
        servers.callback(pg.stop)
        database_url = await asyncio.to_thread(pg.start)
        await migrate(database_url)
        redis_server = EmbeddedRedis(root / "redis", free_port(), appendfsync="always")
        servers.callback(redis_server.stop)
        await asyncio.to_thread(redis_server.start)
        proxy = await FaultProxy("127.0.0.1", redis_server.port).start()
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": proxy.url,
            "GAVEL_JWT_SECRET": secrets.token_urlsafe(48),
            "GAVEL_DATA_DIR": str(root / "data"),
        }
        try:
            # In a thread: the proxy serves the starting app from this event loop.
            base = await asyncio.to_thread(
                servers.enter_context, app_server(env, log_file=logs / "uvicorn.log")
            )
            async with httpx.AsyncClient(base_url=base, timeout=30.0) as http:
                seller = await register(http, seller=True)
                bidders = [await register(http) for _ in range(3)]
                result = Stack(
                    base,
                    pg,
                    redis_server,
                    proxy,
                    database_url.replace("postgresql+asyncpg://", "postgresql://"),
                    seller,
                    bidders,
                )
                result.auction_id = await live_auction(http, seller)
            yield result
        finally:
            if not ping(redis_server.port):
                await asyncio.to_thread(redis_server.start)
            await asyncio.to_thread(servers.close)  # the app first, then the servers
            await proxy.close()


async def live_auction(http: httpx.AsyncClient, seller: Account) -> str:
    listing = {
        "title": "Outage-proof lot",
        "description": "Bids keep coming while servers fail.",
        "category": "home/tools",
        "condition": "NEW",
        "type": "ENGLISH",
        "currency": "USD",
        "startingPrice": "1.00",
        "endsAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    created = checked(await post(http, CREATE, {"input": listing}, seller.token))
    auction_id: str = created["data"]["createAuction"]["auction"]["id"]
    published = checked(await post(http, PUBLISH, {"id": auction_id}, seller.token))
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    return auction_id


class Bidding:
    """Bidders bidding in turn, each bid a little above the last answer's minimum."""

    def __init__(self, stack: Stack, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = http
        self.minimum = Decimal("1.00")
        self.turn = 0

    async def bid(self, bidder: Account | None = None) -> dict[str, Any]:
        """One placeBid on the compiled path; returns the checked body."""
        if bidder is None:
            bidder = self.stack.bidders[self.turn % len(self.stack.bidders)]
            self.turn += 1
        amount = self.minimum
        variables = {"id": self.stack.auction_id, "amount": str(amount)}
        body = checked(await post(self.http, FAST_BID, variables, bidder.token))
        result = (body.get("data") or {}).get("placeBid")
        if result is None:
            kind = "/".join(sorted(codes(body)))
        elif result["__typename"] == "BidAccepted":
            kind = "accepted"
            self.stack.accepted[result["bid"]["sequence"]] = bidder.id
            cents = int(amount * 100)
            self.minimum = Decimal(cents + increment(cents, "USD")).scaleb(-2)
        else:
            kind = result["reason"]
            if result["minimumNextBid"]:
                self.minimum = Decimal(result["minimumNextBid"]["amount"])
        self.stack.answers[kind] = self.stack.answers.get(kind, 0) + 1
        return body

    async def storm(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # A cut connection is no answer at all; the checks are on answers.
            with contextlib.suppress(httpx.HTTPError):
                await self.bid()
            await asyncio.sleep(0.01)


async def slot_seq(stack: Stack) -> int:
    client = aioredis.from_url(stack.redis_server.url, decode_responses=True)
    try:
        return int(await client.hget(keys(stack.auction_id)[0], "seq") or 0)
    finally:
        await client.aclose()


async def ws_close_code(stack: Stack, token: str, *, in_upgrade: bool = False) -> int | None:
    """Where the token goes: `connection_init`, or the upgrade request's header."""
    url = stack.base.replace("http://", "ws://") + "/graphql"
    header = {"Authorization": f"Bearer {token}"} if in_upgrade else {}
    payload = {} if in_upgrade else {"authorization": f"Bearer {token}"}
    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers=header,
    ) as sock:
        await sock.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            while True:
                await asyncio.wait_for(sock.recv(), 10)
        except ConnectionClosed:
            pass
        return sock.close_code


async def ws_subscription(stack: Stack, token: str, protocol: str) -> list[dict[str, Any]]:
    """Subscribe from sequence 0; the first answers (replayed events or an error)."""
    url = stack.base.replace("http://", "ws://") + "/graphql"
    legacy = protocol == "graphql-ws"
    received: list[dict[str, Any]] = []
    async with connect(url, subprotocols=[protocol]) as sock:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await sock.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(sock.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        start = {
            "id": "1",
            "type": "start" if legacy else "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": {"id": stack.auction_id}},
        }
        await sock.send(json.dumps(start))
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            while len(received) < 2:
                message = json.loads(await asyncio.wait_for(sock.recv(), 5))
                if message["type"] in ("ka", "ping", "pong"):
                    continue
                received.append(message)
                if message["type"] not in ("next", "data"):
                    break
    return received


@contextlib.asynccontextmanager
async def authenticated_socket(
    stack: Stack, account: Account, protocol: str
) -> AsyncIterator[ClientConnection]:
    url = stack.base.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[protocol]) as sock:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {account.token}"}}
        await sock.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(sock.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield sock


async def unavailable_operation(stack: Stack, sock: ClientConnection, op: str) -> None:
    """An operation on `sock` is answered by an `error` message: UNAVAILABLE, retryAfter.
    On graphql-transport-ws it is `me`, which the socket's old viewer would answer."""
    legacy = sock.subprotocol == "graphql-ws"
    start = {
        "id": op,
        "type": "start" if legacy else "subscribe",
        "payload": {"query": SUBSCRIBE, "variables": {"id": stack.auction_id}}
        if legacy
        else {"query": ME},
    }
    await sock.send(json.dumps(start))
    while True:
        message = json.loads(await asyncio.wait_for(sock.recv(), 10))
        if message["type"] not in ("ka", "ping", "pong"):
            break
    assert message["type"] == "error" and message["id"] == op, message
    error = message["payload"] if legacy else message["payload"][0]
    assert error["extensions"]["code"] == "UNAVAILABLE", message
    assert error["extensions"]["retryAfter"] > 0, message


def check_stream(messages: list[dict[str, Any]]) -> None:
    """Events, or errors that are UNAVAILABLE with a retryAfter: never INTERNAL."""
    assert messages, "no answer at all"
    for message in messages:
        payload = message.get("payload")
        errors = payload if isinstance(payload, list) else (payload or {}).get("errors") or []
        for error in errors:
            extensions = error.get("extensions") or {}
            assert extensions.get("code") == "UNAVAILABLE", message
            assert extensions.get("retryAfter", 0) > 0, message


async def test_bidding_goes_on_while_postgresql_is_down(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.base, timeout=30.0) as http:
        bidding = Bidding(stack, http)
        warm = await bidding.bid()  # also warms the app's auction facts cache
        assert warm["data"]["placeBid"]["__typename"] == "BidAccepted", warm
        # An account whose state Redis lost: authenticating it needs PostgreSQL.
        lost = await register(http)
        # The same, for an account whose sockets opened before: their next operation too.
        stranded = await register(http)
        sockets = contextlib.AsyncExitStack()
        open_sockets = [
            await sockets.enter_async_context(authenticated_socket(stack, stranded, protocol))
            for protocol in ("graphql-transport-ws", "graphql-ws")
        ]
        redis = aioredis.from_url(stack.redis_server.url)
        try:
            assert await redis.delete(account_key(lost.id)) == 1
            assert await redis.delete(account_key(stranded.id)) == 1
        finally:
            await redis.aclose()

        stop = asyncio.Event()
        storm = asyncio.create_task(bidding.storm(stop))
        try:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(stack.pg.stop, "immediate")  # in the middle of bids
            await asyncio.sleep(3.0)  # beyond the 2 s user cache of the old failure
            stop.set()
            await storm

            # Bids still get decided, on the compiled and on the generic path.
            for bidder in stack.bidders:
                body = await bidding.bid(bidder)
                assert body["data"]["placeBid"]["__typename"] in ("BidAccepted", "BidRejected")
            generic = checked(
                await post(
                    http,
                    BID,
                    {"id": stack.auction_id, "amount": str(bidding.minimum)},
                    stack.bidders[0].token,
                )
            )
            assert codes(generic) <= {"UNAVAILABLE"}, generic  # e.g. the leader's profile
            assert generic["data"] is None or generic["data"]["placeBid"] is not None

            # Authentication needs no PostgreSQL: `me` is answered from the account state.
            me = checked(await post(http, ME, token=stack.bidders[1].token))
            assert me["data"]["me"]["user"]["id"] == stack.bidders[1].id, me
            # Whatever needs PostgreSQL answers UNAVAILABLE, retryable.
            browse = checked(await post(http, BROWSE, token=stack.bidders[1].token))
            assert codes(browse) == {"UNAVAILABLE"}, browse
            name = f"x{uuid.uuid4().hex[:10]}"
            signup = {"input": {"username": name, "email": f"{name}@e.com", "password": PASSWORD}}
            assert codes(checked(await post(http, REGISTER, signup))) == {"UNAVAILABLE"}
            # A token whose account state is gone: nothing can run, on any transport.
            for query in (FAST_BID, ME):
                response = await post(
                    http, query, {"id": stack.auction_id, "amount": "1"}, lost.token
                )
                assert response.status_code == 503, response.text
                checked(response)
            async with http.stream(
                "POST",
                "/graphql",
                json={"query": SUBSCRIBE, "variables": {"id": stack.auction_id}},
                headers={"accept": "text/event-stream", "Authorization": f"Bearer {lost.token}"},
            ) as sse:
                await sse.aread()
                assert sse.status_code == 503
                checked(sse)
            assert await ws_close_code(stack, lost.token) == 1013
            assert await ws_close_code(stack, lost.token, in_upgrade=True) == 1013
            # An open socket re-checks its account per operation: that one is answered
            # UNAVAILABLE, and the socket stays open for the retry.
            for sock in open_sockets:
                for attempt in ("1", "2"):
                    await unavailable_operation(stack, sock, attempt)
            await sockets.aclose()
            # Subscriptions (replayed from Redis) on both WebSocket protocols and SSE.
            for protocol in ("graphql-transport-ws", "graphql-ws"):
                messages = await ws_subscription(stack, stack.bidders[2].token, protocol)
                check_stream(messages)
            async with http.stream(
                "POST",
                "/graphql",
                json={"query": SUBSCRIBE, "variables": {"id": stack.auction_id}},
                headers={
                    "accept": "text/event-stream",
                    "Authorization": f"Bearer {stack.bidders[2].token}",
                },
            ) as sse:
                assert sse.status_code == 200
                lines: list[dict[str, Any]] = []
                async for line in sse.aiter_lines():
                    if line.startswith("data:") and line[5:].strip():
                        lines.append({"type": "next", "payload": json.loads(line[5:])})
                    if len(lines) >= 2:
                        break
                check_stream(lines)
        finally:
            stop.set()
            await asyncio.to_thread(stack.pg.start)

        print(f"answers while PostgreSQL stopped: {stack.answers}")
        assert stack.answers.get("accepted", 0) >= 3, stack.answers
        assert "UNAVAILABLE" not in stack.answers, stack.answers  # no bid needed PostgreSQL

        # PostgreSQL is back: bidding goes on, and every accepted bid reaches it.
        deadline = time.monotonic() + CATCH_UP
        while True:
            body = await bidding.bid()
            if (body.get("data") or {}).get("placeBid", {}).get("__typename") == "BidAccepted":
                break
            assert time.monotonic() < deadline, body
        me = checked(await post(http, ME, token=lost.token))
        assert me["data"]["me"]["user"]["id"] == lost.id  # its state rebuilt from PostgreSQL
    await wait_persisted(stack)


async def wait_persisted(stack: Stack) -> None:
    deadline = time.monotonic() + CATCH_UP
    db = await asyncpg.connect(stack.dsn)
    try:
        while True:
            rows = await db.fetch(
                "SELECT sequence, bidder_id FROM bids WHERE auction_id = $1",
                uuid.UUID(stack.auction_id),
            )
            stored = {r["sequence"]: str(r["bidder_id"]) for r in rows}
            if all(stored.get(seq) == who for seq, who in stack.accepted.items()):
                break
            missing = sorted(set(stack.accepted) - set(stored))
            assert time.monotonic() < deadline, f"accepted bids {missing} never reached PostgreSQL"
            await asyncio.sleep(0.2)
        assert sorted(stored) == list(range(1, await slot_seq(stack) + 1))  # gapless, once
    finally:
        await db.close()


async def test_bids_survive_a_valkey_restart_and_killed_connections(stack: Stack):
    stack.answers.clear()
    async with httpx.AsyncClient(base_url=stack.base, timeout=30.0) as http:
        bidding = Bidding(stack, http)
        await bidding.bid()
        stop = asyncio.Event()
        storm = asyncio.create_task(bidding.storm(stop))
        try:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(stack.redis_server.restart)  # mid-storm
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await storm
        assert "INTERNAL" not in json.dumps(stack.answers)

        # Every connection the app holds is killed; its next bids must simply work.
        admin = aioredis.from_url(stack.redis_server.url)
        try:
            assert await admin.client_kill_filter(_type="normal", skipme=True) >= 1
        finally:
            await admin.aclose()
        for bidder in stack.bidders:
            body = await bidding.bid(bidder)
            assert "errors" not in body, body

        # A bid whose reply is lost after the script ran: applied once, answered once.
        before = await slot_seq(stack)
        bidder = stack.bidders[0]
        amount = bidding.minimum + Decimal("0.13")
        minor = str(int(amount * 100))
        stack.proxy.lose_next_reply(f"{bidder.id}\r\n${len(minor)}\r\n{minor}\r\n".encode())
        lost = stack.proxy.lost
        variables = {"id": stack.auction_id, "amount": str(amount)}
        body = checked(await post(http, FAST_BID, variables, bidder.token))
        assert stack.proxy.lost == lost + 1, "the proxy lost no reply"
        result = body["data"]["placeBid"]
        assert result["__typename"] == "BidAccepted", body
        assert result["bid"]["sequence"] == before + 1
        assert await slot_seq(stack) == before + 1  # not twice
        stack.accepted[before + 1] = bidder.id
    await wait_persisted(stack)


async def test_bids_answer_unavailable_while_valkey_is_down(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.base, timeout=30.0) as http:
        bidding = Bidding(stack, http)
        await bidding.bid()
        await asyncio.to_thread(stack.redis_server.stop)
        try:
            for bidder in stack.bidders:
                body = await bidding.bid(bidder)
                assert codes(body) == {"UNAVAILABLE"}, body
            generic = checked(
                await post(
                    http, BID, {"id": stack.auction_id, "amount": "999"}, stack.bidders[0].token
                )
            )
            assert codes(generic) == {"UNAVAILABLE"}, generic
            # PostgreSQL still answers for the account while Redis is away.
            me = checked(await post(http, ME, token=stack.bidders[0].token))
            assert me["data"]["me"]["user"]["id"] == stack.bidders[0].id, me
        finally:
            await asyncio.to_thread(stack.redis_server.start)
        deadline = time.monotonic() + CATCH_UP
        while True:
            body = await bidding.bid()
            if (body.get("data") or {}).get("placeBid", {}).get("__typename") == "BidAccepted":
                break
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.1)
    await wait_persisted(stack)
