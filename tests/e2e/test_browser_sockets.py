"""WebSocket defences over real sockets: the message size cap and the Origin check.

A WebSocket message may be no larger than an HTTP body (GAVEL_MAX_REQUEST_BYTES, 2 MiB by
default). uvicorn as Gavel starts it (devservers/app_server.py) refuses a larger frame
itself; served by a uvicorn left at its own 16 MiB default, the app closes the socket
with 1009. Either way the server stays up for everyone else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from devservers.app_server import app_server
from devservers.ports import free_port
from settings import Settings

PROTOCOL = "graphql-transport-ws"
TOO_BIG = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[str]:
    """The app in its own uvicorn process, started exactly as `make run` starts it."""
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-sockets-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_RUN_SCHEDULER": "false",
    }
    with app_server(env) as base:
        yield base


@pytest.fixture(scope="module")
async def lenient(app: FastAPI) -> AsyncIterator[str]:
    """The test app behind an in-process uvicorn that accepts 16 MiB frames (its default)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws_max_size=16 << 20
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 10)


async def _acked(base: str, **headers: str) -> ClientConnection:
    ws = await connect(
        base.replace("http", "ws", 1) + "/graphql",
        subprotocols=[Subprotocol(PROTOCOL)],
        additional_headers=headers,
        max_size=None,
    )
    await ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    return ws


async def _assert_too_big_closes_1009(base: str) -> None:
    ws = await _acked(base)
    payload = {"query": "subscription { __typename }", "pad": "x" * TOO_BIG}
    message = json.dumps({"id": "1", "type": "subscribe", "payload": payload})
    with pytest.raises(ConnectionClosed) as closed:
        await ws.send(message)
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    # The server is healthy and serves a new socket at once.
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        assert (await client.get("/healthz")).text == "ok"
    again = await _acked(base)
    await again.close()


async def test_uvicorn_as_started_refuses_an_oversized_frame(served):
    await _assert_too_big_closes_1009(served)


async def test_the_app_closes_an_oversized_message_itself(lenient):
    await _assert_too_big_closes_1009(lenient)


async def test_a_message_under_the_cap_is_served(lenient):
    ws = await _acked(lenient)
    query = "subscription { __typename }" + " " * (1024 * 1024)  # 1 MiB: allowed
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer["id"] == "1"
    await ws.close()


async def test_a_foreign_origin_cannot_open_a_socket(lenient):
    # Pages of other sites are refused at the handshake (strawberry's Origin check); the
    # socket's own site and non-browser clients (no Origin) are served.
    with pytest.raises(InvalidStatus) as refused:
        await _acked(lenient, Origin="https://evil.example")
    assert refused.value.response.status_code == 403
    same = await _acked(lenient, Origin=lenient)
    await same.close()
