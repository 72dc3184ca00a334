"""WebSocket limits over real sockets: open connections per address, subscribe messages
per socket, on both protocols."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devservers.app_server import app_server
from settings import Settings

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
