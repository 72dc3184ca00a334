"""`make run`'s Ctrl-C with live subscribers: the dev runner (`python -m devservers run`)
stops the app gracefully and then exits, within seconds.

The runner is given the test session's PostgreSQL (a fresh database it migrates and seeds
itself) and Redis (a database index of its own), so it starts no servers of its own.
Before, an open SSE stream kept uvicorn waiting until the runner killed it 20 s later.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from devservers.ports import free_port
from devservers.stack import StackUrls
from tests.conftest import create_database
from tests.helpers import own_redis_db

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STOPS_WITHIN = 8.0
SUBSCRIBE = "subscription($id: ID!) { auctionUpdated(auctionId: $id) { sequence } }"
ACTIVE = "{ auctions(first: 1, filter: {statuses: [ACTIVE]}) { edges { node { id } } } }"


@pytest.fixture
def runner(stack: StackUrls, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    database = asyncio.run(create_database(stack.database_url, f"runner_{uuid.uuid4().hex[:8]}"))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": own_redis_db(stack.redis_url, 8),
        "GAVEL_DATA_DIR": str(tmp_path / "data"),
        "GAVEL_PORT": str(port),
        "GAVEL_JWT_SECRET": "runner-" + "r" * 40,
        "GAVEL_ADMIN_STORAGE_SECRET": "runner-admin-" + "a" * 40,
    }
    log = tmp_path / "runner.log"
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devservers", "run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like a terminal's foreground job: Ctrl-C reaches it
        )
    try:
        yield proc, f"http://127.0.0.1:{port}", log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_ctrl_c_with_subscribers_stops_the_app_then_the_runner_in_seconds(runner):
    proc, base, log = runner
    deadline = time.monotonic() + 180  # migrations and seeds first
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        found = (await client.post("/graphql", json={"query": ACTIVE})).json()
    auction_id = found["data"]["auctions"]["edges"][0]["node"]["id"]

    ended: dict[str, Any] = {}
    subscribed = asyncio.Event()

    async def sse() -> None:
        body = {"query": SUBSCRIBE, "variables": {"id": auction_id}}
        headers = {"accept": "text/event-stream"}
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            client.stream("POST", "/graphql", json=body, headers=headers) as response,
        ):
            subscribed.set()  # the stream is open once its headers came
            async for line in response.aiter_lines():
                if line.startswith("data:") and "errors" in line:
                    ended["sse"] = json.loads(line[5:])["errors"][0]["extensions"]["code"]

    async def ws() -> None:
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            await socket.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIBE, "variables": {"id": auction_id}},
                    }
                )
            )
            try:
                while True:
                    await socket.recv()
            except ConnectionClosed as closed:
                ended["ws"] = closed.rcvd.code if closed.rcvd else None

    clients = [asyncio.create_task(sse()), asyncio.create_task(ws())]
    await asyncio.wait_for(subscribed.wait(), 10)
    await asyncio.sleep(0.5)  # the WebSocket subscription is set up too
    pressed = time.monotonic()
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        code = await asyncio.to_thread(proc.wait, STOPS_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"runner still running {STOPS_WITHIN}s after Ctrl-C:\n{log.read_text()[-3000:]}"
        )
    took = time.monotonic() - pressed
    await asyncio.wait_for(asyncio.gather(*clients), 10)
    output = log.read_text(errors="replace")
    print(f"runner stopped in {took:.1f}s")
    assert code == 0, output[-3000:]
    assert "app stopped in" in output and "killing it" not in output, output[-3000:]
    assert ended == {"sse": "SHUTTING_DOWN", "ws": 1012}, ended
