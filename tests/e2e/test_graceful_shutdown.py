"""Graceful shutdown: SIGTERM (or Ctrl-C's SIGINT) during a bid storm, with live
subscribers on every transport.

The app runs under uvicorn exactly as `make run` starts it (`uvicorn_command`). Subscribers
over server-sent events, graphql-transport-ws and graphql-ws follow an auction while
bidders storm it; then the server gets SIGTERM. It must turn /readyz unready first
(GAVEL_SHUTDOWN_DELAY makes that window wide enough to see), end every stream (the SSE
one with SHUTTING_DOWN and where to resume, the WebSockets with close 1012 "service
restart"), answer the bids in flight, write every acknowledged bid to PostgreSQL (the
persister's final drain) and exit within seconds. Before, one open SSE stream kept
uvicorn waiting until the dev runner killed it 20 s later, and the final drain never ran.

The server uses a Redis database of its own (index 7 of the session's Redis), so the
in-process app of the other tests, whose persister sweeps its own database's live
auctions, cannot write this auction's events in the server's place: what PostgreSQL
holds after the exit is what the stopping server wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from devservers.app_server import uvicorn_command
from devservers.ports import free_port
from realtime.slots import keys
from settings import Settings
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, create_auction, own_redis_db, register

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIDDERS = 8
STORM_BEFORE_SIGNAL = 1.5  # seconds of bidding before SIGTERM
DRAIN_DELAY = 0.6  # GAVEL_SHUTDOWN_DELAY: how long /readyz answers 503 before the stop
EXIT_WITHIN = 8.0  # seconds from SIGTERM to the process's exit
SUBSCRIBE = """
subscription($id: ID!, $since: Int) {
  auctionUpdated(auctionId: $id, sinceSequence: $since) { kind sequence }
}"""


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path
    redis_url: str

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    redis_url = own_redis_db(settings.redis_url or "", 7)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": redis_url,
        "GAVEL_JWT_SECRET": "graceful-" + "s" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_SHUTDOWN_DELAY": str(DRAIN_DELAY),
        "GAVEL_SHUTDOWN_TIMEOUT": "5",
    }
    port = free_port()
    log = tmp_path / "uvicorn.log"
    with log.open("ab") as sink:  # a file, not a pipe nobody reads (it would fill up)
        proc = subprocess.Popen(
            uvicorn_command("127.0.0.1", port, env=env),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = Server(proc, f"http://127.0.0.1:{port}", log, redis_url)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{running.base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, running.log_tail()
            time.sleep(0.1)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class Seen:
    """What the clients saw."""

    acks: list[int] = field(default_factory=list)  # sequences of BidAccepted answers
    sse_events: list[dict[str, Any]] = field(default_factory=list)
    sse_errors: list[dict[str, Any]] = field(default_factory=list)
    sse_completed: bool = False
    ws_events: dict[str, list[int]] = field(default_factory=dict)
    ws_close: dict[str, tuple[int | None, str]] = field(default_factory=dict)
    readiness: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


async def sse_subscriber(base: str, auction_id: str, seen: Seen, started: asyncio.Event) -> None:
    body = {"query": SUBSCRIBE, "variables": {"id": auction_id, "since": 0}}
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as client,
        client.stream("POST", "/graphql", json=body, headers={"accept": "text/event-stream"}) as r,
    ):
        assert r.status_code == 200
        event = ""
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                if event == "complete":
                    seen.sse_completed = True
            elif line.startswith("data:") and event == "next":
                payload = json.loads(line[5:])
                if payload.get("errors"):
                    seen.sse_errors.extend(payload["errors"])
                else:
                    seen.sse_events.append(payload["data"]["auctionUpdated"])
                    started.set()


async def ws_subscriber(
    base: str, protocol: str, auction_id: str, seen: Seen, started: asyncio.Event
) -> None:
    url = base.replace("http://", "ws://") + "/graphql"
    events = seen.ws_events.setdefault(protocol, [])
    async with connect(url, subprotocols=[protocol], open_timeout=10) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        kind = "subscribe" if protocol == "graphql-transport-ws" else "start"
        variables = {"id": auction_id, "since": 0}
        try:
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "connection_ack":
                    await ws.send(
                        json.dumps(
                            {
                                "id": "1",
                                "type": kind,
                                "payload": {"query": SUBSCRIBE, "variables": variables},
                            }
                        )
                    )
                elif message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif message["type"] in ("next", "data"):
                    assert not message["payload"].get("errors"), message
                    events.append(message["payload"]["data"]["auctionUpdated"]["sequence"])
                    started.set()
                elif message["type"] != "ka":
                    raise AssertionError(f"{protocol}: unexpected {message}")
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            seen.ws_close[protocol] = (rcvd.code, rcvd.reason) if rcvd else (None, "")


async def idle_socket(base: str, seen: Seen, started: asyncio.Event) -> None:
    """A WebSocket with no subscription: it is closed all the same."""
    url = base.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        started.set()
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            seen.ws_close["idle"] = (rcvd.code, rcvd.reason) if rcvd else (None, "")


async def bidder(base: str, token: str, auction_id: str, seen: Seen, rank: int) -> None:
    """Bids until the server stops answering; only BidAccepted answers count as acks."""
    amount = Decimal(10 + rank)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while True:
            key = uuid.uuid4().hex
            try:
                response = await client.post(
                    "/graphql",
                    json={
                        "query": BID,
                        "variables": {"id": auction_id, "amount": str(amount), "key": key},
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError:
                return  # refused or cut: the server is gone; nothing was acknowledged
            result = response.json()["data"]["placeBid"]
            if result["__typename"] == "BidAccepted":
                seen.acks.append(result["bid"]["sequence"])
                amount = Decimal(result["auction"]["minimumNextBid"]["amount"]) + rank
            else:
                assert result["reason"] == "BID_TOO_LOW", result
                amount = Decimal(result["minimumNextBid"]["amount"]) + rank


async def readiness(base: str, seen: Seen) -> None:
    """/readyz until the server stops answering."""
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            try:
                response = await client.get("/readyz")
            except httpx.HTTPError:
                return
            seen.readiness.append((response.status_code, response.json()))
            await asyncio.sleep(0.02)


@pytest.fixture
async def pg(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect((settings.database_url or "").replace("+asyncpg", ""))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
async def test_a_stop_signal_ends_streams_answers_bids_and_persists_every_acknowledged_bid(
    server: Server, pg: asyncpg.Connection, stop: signal.Signals
) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        gql = GQL(client)
        seller = await register(gql, seller=True)
        bidders = [await register(gql) for _ in range(BIDDERS)]
        auction_id = (await create_auction(gql, seller, startingPrice="10.00"))["id"]
        published = await gql(PUBLISH, {"id": auction_id}, token=seller.token)
        assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
        first = await gql(BID, {"id": auction_id, "amount": "10.00"}, token=bidders[0].token)
        assert first["data"]["placeBid"]["__typename"] == "BidAccepted", first

    seen = Seen(acks=[1])
    # Every subscriber replays event 1 first (sinceSequence 0): then it is surely live.
    names = ("sse", "graphql-transport-ws", "graphql-ws", "idle")
    started = {name: asyncio.Event() for name in names}
    subscribers = [
        asyncio.create_task(sse_subscriber(server.base, auction_id, seen, started["sse"])),
        asyncio.create_task(idle_socket(server.base, seen, started["idle"])),
        *(
            asyncio.create_task(ws_subscriber(server.base, p, auction_id, seen, started[p]))
            for p in ("graphql-transport-ws", "graphql-ws")
        ),
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started.values())), 15)
    storm = [
        asyncio.create_task(bidder(server.base, b.token, auction_id, seen, rank))
        for rank, b in enumerate(bidders)
    ]
    await asyncio.sleep(STORM_BEFORE_SIGNAL)
    acked_before = len(seen.acks)
    probe = asyncio.create_task(readiness(server.base, seen))
    signalled = time.monotonic()
    server.proc.send_signal(stop)
    try:
        code = await asyncio.to_thread(server.proc.wait, EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {EXIT_WITHIN} s after {stop.name}:\n{server.log_tail()}")
    took = time.monotonic() - signalled
    done, pending = await asyncio.wait([*subscribers, *storm, probe], timeout=10)
    assert not pending, f"clients still waiting after the exit: {pending}"
    for task in done:
        task.result()  # a client's failed assertion fails the test

    log = server.log_tail()
    print(f"exit {code} after {took:.1f}s; {len(seen.acks)} acks ({acked_before} before)")
    # uvicorn re-raises the signal once it is done: SIGTERM then ends the process (-15,
    # status 143 in a shell), SIGINT's KeyboardInterrupt is caught (0). Not a kill (-9).
    assert code == {signal.SIGTERM: -signal.SIGTERM, signal.SIGINT: 0}[stop], log
    whole = server.log.read_text(errors="replace")
    assert "Finished server process" in whole, log
    # Nothing in flight was cut off: every request was answered before the timeout.
    assert "timeout graceful shutdown exceeded" not in whole, log
    assert len(seen.acks) >= acked_before > 1, "the storm ran up to the signal"

    # Unready first: 503 "draining" while the server still answers.
    assert seen.readiness, "no /readyz answer after the signal"
    assert seen.readiness[-1] == (503, {"ready": False, "status": "draining"}), seen.readiness

    # Every stream ended: the SSE one with SHUTTING_DOWN and where to resume, WebSockets
    # with 1012 (service restart), which clients reconnect after.
    assert [e["extensions"]["code"] for e in seen.sse_errors] == ["SHUTTING_DOWN"], seen
    resume = seen.sse_events[-1]["sequence"]
    assert f"sinceSequence: {resume}" in seen.sse_errors[0]["message"], seen.sse_errors
    assert seen.sse_completed
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        assert seen.ws_events[protocol][0] == 1, seen.ws_events
    assert {name: close[0] for name, close in seen.ws_close.items()} == {
        "graphql-transport-ws": 1012,
        "graphql-ws": 1012,
        "idle": 1012,
    }, seen.ws_close

    # Every acknowledged bid is in PostgreSQL, and the outbox's events with no gap.
    slot = aioredis.from_url(server.redis_url, decode_responses=True)
    try:
        stored = await slot.hget(keys(auction_id)[0], "seq")
        last = int(str(stored))
    finally:
        await slot.aclose()
    auction = uuid.UUID(auction_id)
    bids = {
        r["sequence"]
        for r in await pg.fetch("SELECT sequence FROM bids WHERE auction_id = $1", auction)
    }
    missing = sorted(set(seen.acks) - bids)
    assert not missing, f"acknowledged bids missing from PostgreSQL: {missing[:20]}\n{log}"
    events = sorted(
        r["sequence"]
        for r in await pg.fetch(
            "SELECT sequence FROM auction_events WHERE auction_id = $1", auction
        )
    )
    assert events == list(range(1, last + 1)), (events[-5:], last)
    row = await pg.fetchrow("SELECT last_sequence FROM auctions WHERE id = $1", auction)
    assert row is not None and row["last_sequence"] == last
