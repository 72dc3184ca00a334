"""Every operation on an open WebSocket re-checks its account (schema/socket_auth.py).

Real uvicorn processes, both protocols spoken by hand: a ban, a fraud hold or an expired
access token after `connection_init` must stop the next operation on the old socket, as
it stops the next HTTP request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect

from devservers.app_server import app_server
from services import moderation
from settings import Settings
from tests.conftest import GQL
from tests.e2e.test_subscriptions import (
    PROTOCOLS,
    SUBSCRIBE,
    TRANSPORT_WS,
    Socket,
    live_auction,
    socket,
)
from tests.helpers import BID, Account, register

SECRET = "e2e-socket-auth-" + "x" * 40
ACCESS_TTL = 3  # seconds: long enough to register and connect, short enough to wait out
USER_CACHE_SECONDS = 2.2  # a server process caches an account for at most 2 s
ME = "query { me { user { id } } }"
AUCTION = "query($id: ID!) { auction(id: $id) { bidCount } }"
OPERATIONS = ["placeBid", "subscription", "query"]


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": SECRET,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        **extra,
    }


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    with app_server(_env(settings)) as base:
        yield base


@pytest.fixture(scope="module")
def short_token_server(settings: Settings) -> Iterator[str]:
    with app_server(_env(settings, GAVEL_ACCESS_TOKEN_TTL=str(ACCESS_TTL))) as base:
        yield base


@asynccontextmanager
async def http(server: str) -> AsyncIterator[GQL]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        yield GQL(client)


@pytest.fixture
async def gql(server: str) -> AsyncIterator[GQL]:
    async with http(server) as client:
        yield client


def _operation(kind: str, auction_id: str) -> tuple[str, dict[str, Any]]:
    if kind == "placeBid":
        return BID, {"id": auction_id, "amount": "100"}
    if kind == "subscription":
        return SUBSCRIBE, {"id": auction_id, "since": 0}
    return ME, {}


async def _answer(sock: Socket, op: str) -> dict[str, Any]:
    """The first message answering `op` (a result or an error)."""
    message = await sock.recv()
    assert message.get("id") == op, message
    return message


async def _me_on_socket(sock: Socket, account: Account) -> None:
    """The socket acts as `account` (graphql-ws serves only subscriptions, none of which
    tells who the socket is: there its `connection_ack` to the token has to do)."""
    if sock.protocol == TRANSPORT_WS:
        await sock.subscribe("me", ME, {})
        message = await _answer(sock, "me")
        assert message["payload"]["data"]["me"]["user"]["id"] == account.id, message
        assert (await _answer(sock, "me"))["type"] == "complete"


async def _bid_count(gql: GQL, auction_id: str) -> int:
    body = await gql(AUCTION, {"id": auction_id})
    count: int = body["data"]["auction"]["bidCount"]
    return count


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("kind", OPERATIONS)
async def test_ban_after_connect_closes_the_socket_at_the_next_operation(
    server, gql, app, protocol, kind
):
    bidder = await register(gql)
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    async with socket(server, protocol, {"authorization": f"Bearer {bidder.token}"}) as sock:
        await _me_on_socket(sock, bidder)
        await moderation.set_banned(app.state.deps, uuid.UUID(bidder.id), True)
        await asyncio.sleep(USER_CACHE_SECONDS)
        query, variables = _operation(kind, auction_id)
        await sock.subscribe("after-ban", query, variables)
        assert await sock.close_code() == 4403
    assert await _bid_count(gql, auction_id) == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ban_closes_a_socket_authenticated_by_its_upgrade_header(server, gql, app, protocol):
    bidder = await register(gql)
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    url = server.replace("http://", "ws://") + "/graphql"
    headers = {"Authorization": f"Bearer {bidder.token}"}
    async with connect(url, subprotocols=[protocol], additional_headers=headers) as ws:
        sock = Socket(ws, protocol)
        assert (await sock.init())["type"] == "connection_ack"
        await _me_on_socket(sock, bidder)
        await moderation.set_banned(app.state.deps, uuid.UUID(bidder.id), True)
        await asyncio.sleep(USER_CACHE_SECONDS)
        await sock.subscribe("bid", BID, {"id": auction_id, "amount": "100"})
        assert await sock.close_code() == 4403
    assert await _bid_count(gql, auction_id) == 0


async def test_fraud_hold_after_connect_rejects_the_next_bid_on_the_socket(server, gql, app):
    # graphql-ws serves only subscriptions (OPERATION_NOT_SUPPORTED for a mutation), which
    # a fraud hold does not restrict.
    protocol = TRANSPORT_WS
    bidder = await register(gql)
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    async with socket(server, protocol, {"authorization": f"Bearer {bidder.token}"}) as sock:
        await _me_on_socket(sock, bidder)
        await moderation.set_fraud_hold(app.state.deps, uuid.UUID(bidder.id), True)
        await asyncio.sleep(USER_CACHE_SECONDS)
        await sock.subscribe("bid", BID, {"id": auction_id, "amount": "100"})
        message = await _answer(sock, "bid")
        assert message["type"] == "next", message
        answer = message["payload"]["data"]["placeBid"]
        assert answer["__typename"] == "BidRejected", answer
        assert answer["reason"] == "FRAUD_HOLD", answer
        assert (await _answer(sock, "bid"))["type"] == "complete"
        await _me_on_socket(sock, bidder)  # the socket stays open for what the hold allows
    assert await _bid_count(gql, auction_id) == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("kind", OPERATIONS)
async def test_an_access_token_expiring_on_an_open_socket_closes_it_at_the_next_operation(
    short_token_server, protocol, kind
):
    async with http(short_token_server) as gql:
        bidder = await register(gql)
    expires_at = jwt.decode(bidder.token, options={"verify_signature": False})["exp"]
    init = {"authorization": f"Bearer {bidder.token}"}
    async with socket(short_token_server, protocol, init) as sock:
        await _me_on_socket(sock, bidder)
        await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.3)
        query, variables = _operation(kind, str(uuid.uuid4()))
        await sock.subscribe("after-expiry", query, variables)
        assert await sock.close_code() == 4401
