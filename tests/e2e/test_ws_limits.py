"""Live-connection limits over real sockets: open WebSockets and server-sent event streams
per address (one count for both), subscribe messages per socket, on both protocols."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devservers.app_server import app_server
from settings import Settings
from tests.conftest import GQL
from tests.helpers import PUBLISH, create_auction, register

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
# An auction that does not exist: the subscription runs and answers NOT_FOUND.
NOWHERE = "00000000-0000-0000-0000-000000000000"
PROBE = f'subscription {{ auctionUpdated(auctionId: "{NOWHERE}") {{ sequence }} }}'


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-ws-limits-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_RUN_SCHEDULER": "false",
        "GAVEL_RATE_WS_CONNECTIONS_IP": "2",
        "GAVEL_RATE_WS_SUBSCRIBE": "2/60",
    }
    with app_server(env) as base:
        yield base.replace("http://", "ws://") + "/graphql"


async def recv(ws: ClientConnection, wait: float = 10.0) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if message["type"] not in ("ka", "ping", "pong"):
            return message


async def opened(url: str, protocol: str) -> ClientConnection:
    ws = await connect(url, subprotocols=[protocol], open_timeout=10)  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init"}))
    assert (await recv(ws))["type"] == "connection_ack"
    return ws


async def eventually_opened(url: str, protocol: str) -> ClientConnection:
    """A socket once the server has seen an earlier one close (it may take a moment)."""
    for _ in range(50):
        try:
            return await opened(url, protocol)
        except ConnectionClosed:
            await asyncio.sleep(0.1)
    raise AssertionError("no place became free")


async def close_code(ws: ClientConnection) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_open_connections_per_address(server, protocol):
    first, second = await opened(server, protocol), await opened(server, protocol)
    try:
        async with connect(server, subprotocols=[protocol], open_timeout=10) as third:
            assert await close_code(third) == 4429
        await first.close()
        await first.wait_closed()
        again = await eventually_opened(server, protocol)  # a place is free again
        await again.close()
        # The refused socket held no place: the two open ones still work.
        await second.send(json.dumps(operation(protocol, "ok", PROBE)))
        assert codes(await recv(second)) == ["NOT_FOUND"]
    finally:
        await first.close()
        await second.close()


def codes(message: dict[str, Any]) -> list[str]:
    """The error codes of an answer: an `error` message's or a result's `errors`."""
    payload = message["payload"]
    if message["type"] in ("next", "data"):
        payload = payload.get("errors") or []
    errors = payload if isinstance(payload, list) else [payload]
    return [e["extensions"]["code"] for e in errors]


def operation(protocol: str, op: str, query: str) -> dict[str, Any]:
    kind = "subscribe" if protocol == "graphql-transport-ws" else "start"
    return {"id": op, "type": kind, "payload": {"query": query}}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscribe_messages_per_socket(server, protocol):
    ws = await opened(server, protocol)
    try:
        for op in ("1", "2"):
            await ws.send(json.dumps(operation(protocol, op, PROBE)))
            answer = await recv(ws)
            assert answer["id"] == op and codes(answer) == ["NOT_FOUND"], answer
            if answer["type"] != "error":
                assert (await recv(ws))["type"] == "complete"
        await ws.send(json.dumps(operation(protocol, "3", PROBE)))
        refused = await recv(ws)
        assert refused["id"] == "3" and refused["type"] == "error", refused
        assert codes(refused) == ["RATE_LIMITED"], refused
        payload = refused["payload"]
        [error] = payload if isinstance(payload, list) else [payload]
        assert error["extensions"]["retryAfter"] >= 1, refused
        # Refused, not run: nothing else comes for it, and the socket stays open.
        with pytest.raises(TimeoutError):
            message = await recv(ws, wait=0.5)
            pytest.fail(f"unexpected {message}")
    finally:
        await ws.close()


@pytest.fixture(scope="module")
async def feed(server: str) -> dict[str, Any]:
    """An SSE subscription that stays open until the client goes: a live auction's
    updates, anonymously."""
    async with httpx.AsyncClient(base_url=http_base(server), timeout=10) as client:
        gql = GQL(client)
        seller = await register(gql, seller=True)
        auction = await create_auction(gql, seller)
        body = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
        assert body["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", body
    query = "subscription($id: ID!) { auctionUpdated(auctionId: $id) { sequence } }"
    return {"query": query, "variables": {"id": auction["id"]}}


def http_base(ws_url: str) -> str:
    return ws_url.replace("ws://", "http://").removesuffix("/graphql")


@asynccontextmanager
async def event_streams(server: str) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncExitStack]]:
    async with (
        httpx.AsyncClient(base_url=http_base(server), timeout=10) as client,
        AsyncExitStack() as streams,
    ):
        yield client, streams


async def stream(
    client: httpx.AsyncClient, streams: AsyncExitStack, feed: dict[str, Any]
) -> httpx.Response:
    """An SSE subscription, its answer's head read; the stream stays open with `streams`."""
    return await streams.enter_async_context(
        client.stream("POST", "/graphql", json=feed, headers={"accept": "text/event-stream"})
    )


async def held(
    client: httpx.AsyncClient, streams: AsyncExitStack, feed: dict[str, Any]
) -> httpx.Response:
    """`stream`, once a place is free."""
    response = await eventually_streamed(client, feed)
    streams.push_async_callback(response.aclose)
    return response


async def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response
    assert response.headers["content-type"].startswith("application/json")
    [error] = json.loads(await response.aread())["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", error
    assert error["extensions"]["retryAfter"] >= 1, error
    assert response.headers["retry-after"] == str(error["extensions"]["retryAfter"])


async def test_event_streams_per_address(server, feed):
    async with event_streams(server) as (client, streams):
        # Eventually: the places of an earlier test's connections may not be free yet.
        first = await held(client, streams, feed)
        second = await held(client, streams, feed)
        for response in (first, second):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
        async with event_streams(server) as (other_client, other_streams):
            await assert_refused(await stream(other_client, other_streams, feed))
        # Streams that end give their places back: the client goes away...
        await first.aclose()
        again = await eventually_streamed(client, feed)
        await again.aclose()
        # ... or the subscription ends by itself (an unknown auction: NOT_FOUND, complete).
        for _ in range(3):
            done = await eventually_streamed(client, {"query": PROBE})
            assert "NOT_FOUND" in (await done.aread()).decode(), done
        # None of them kept its place: one is free beside `second`, and only one.
        last = await eventually_streamed(client, feed)
        await assert_refused(await stream(client, streams, feed))
        await last.aclose()
        assert second.status_code == 200


async def eventually_streamed(client: httpx.AsyncClient, feed: dict[str, Any]) -> httpx.Response:
    """A stream once the server has seen an earlier one end (it may take a moment)."""
    for _ in range(50):
        request = client.build_request(
            "POST", "/graphql", json=feed, headers={"accept": "text/event-stream"}
        )
        response = await client.send(request, stream=True)
        if response.status_code == 200:
            return response
        await response.aclose()
        await asyncio.sleep(0.1)
    raise AssertionError("no place became free")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sockets_and_streams_share_the_places(server, feed, protocol):
    ws = await eventually_opened(server, protocol)
    try:
        async with event_streams(server) as (client, streams):
            assert (await held(client, streams, feed)).status_code == 200
            await assert_refused(await stream(client, streams, feed))
            async with connect(server, subprotocols=[protocol], open_timeout=10) as third:
                assert await close_code(third) == 4429
    finally:
        await ws.close()
