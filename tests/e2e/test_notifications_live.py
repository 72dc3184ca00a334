"""`myNotifications` over real sockets: uvicorn in its own process, both WebSocket
protocols and server-sent events.

The server's safety poll is set to 30 s here, so every delivery within the tests' few
seconds came from PostgreSQL's NOTIFY wake-up, or from the re-read after the LISTEN
connection came back (the lost wake-up test).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from devservers.app_server import app_server
from services import moderation
from settings import Settings
from storage.notification_writer import NewNotification, add_notifications
from tests.conftest import GQL
from tests.e2e.test_subscriptions import (
    LEGACY_WS,
    PROTOCOLS,
    TRANSPORT_WS,
    Socket,
    bid,
    live_auction,
    socket,
)
from tests.helpers import Account, register

NOTES = """
subscription($since: Int) {
  myNotifications(sinceSequence: $since) { id sequence kind message auctionId read }
}"""
INBOX = "{ me { notifications(first: 50) { edges { node { id sequence kind } } } } }"


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-notes-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_NOTIFICATION_POLL_SECONDS": "30",
        "GAVEL_NOTIFICATION_RECONNECT_SECONDS": "2",
    }
    with app_server(env) as base:
        yield base


@pytest.fixture
async def gql(server: str) -> AsyncIterator[GQL]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        yield GQL(client)


def _auth(account: Account) -> dict[str, str]:
    return {"authorization": f"Bearer {account.token}"}


async def _note(sock: Socket, op: str, wait: float = 8.0) -> dict[str, Any]:
    payload = await sock.result(op, wait)
    assert not payload.get("errors"), payload
    note: dict[str, Any] = payload["data"]["myNotifications"]
    return note


async def _inbox(gql: GQL, account: Account) -> list[dict[str, Any]]:
    body = await gql(INBOX, token=account.token)
    nodes = [e["node"] for e in body["data"]["me"]["notifications"]["edges"]]
    return sorted(nodes, key=lambda n: n["sequence"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stored_live_and_resumed_without_gap_or_duplicate(server, gql, protocol):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    await bid(gql, alice, auction_id, "100")
    await bid(gql, bob, auction_id, "200")  # alice's first OUTBID, before she subscribes

    async with socket(server, protocol, _auth(alice)) as sock:
        await sock.subscribe("n", NOTES, {"since": 0})
        seen = [await _note(sock, "n")]  # replayed from the inbox
        await bid(gql, alice, auction_id, "300")
        await bid(gql, bob, auction_id, "400")
        seen.append(await _note(sock, "n"))  # live
        await sock.assert_quiet()

    # Missed while disconnected: replayed once, in order, then live.
    await bid(gql, alice, auction_id, "500")
    await bid(gql, bob, auction_id, "600")
    await bid(gql, alice, auction_id, "700")
    await bid(gql, bob, auction_id, "800")
    async with socket(server, protocol, _auth(alice)) as sock:
        await sock.subscribe("again", NOTES, {"since": seen[-1]["sequence"]})
        seen += [await _note(sock, "again"), await _note(sock, "again")]
        await bid(gql, alice, auction_id, "900")
        await bid(gql, bob, auction_id, "1000")
        seen.append(await _note(sock, "again"))
        await sock.assert_quiet()

    assert [n["sequence"] for n in seen] == [1, 2, 3, 4, 5]
    assert {(n["kind"], n["auctionId"], n["read"]) for n in seen} == {("OUTBID", auction_id, False)}
    inbox = await _inbox(gql, alice)
    assert [(n["id"], n["sequence"]) for n in inbox] == [(n["id"], n["sequence"]) for n in seen]


async def test_without_since_sequence_only_new_ones_come(server, gql):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    await bid(gql, alice, auction_id, "100")
    await bid(gql, bob, auction_id, "200")
    async with socket(server, TRANSPORT_WS, _auth(alice)) as sock:
        await sock.subscribe("n", NOTES, {})
        await sock.assert_quiet()  # the stored one is not replayed
        await bid(gql, alice, auction_id, "300")
        await bid(gql, bob, auction_id, "400")
        assert (await _note(sock, "n"))["sequence"] == 2


async def test_a_user_never_receives_another_users_notification(server, gql):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    async with (
        socket(server, TRANSPORT_WS, _auth(alice)) as for_alice,
        socket(server, LEGACY_WS, _auth(bob)) as for_bob,
    ):
        await for_alice.subscribe("a", NOTES, {"since": 0})
        await for_bob.subscribe("b", NOTES, {"since": 0})
        for who, amount in ((alice, "100"), (bob, "200"), (alice, "300"), (bob, "400")):
            await bid(gql, who, auction_id, amount)
        got_alice = [await _note(for_alice, "a"), await _note(for_alice, "a")]
        got_bob = [await _note(for_bob, "b")]
        await for_alice.assert_quiet()
        await for_bob.assert_quiet()
    assert [(n["id"], n["sequence"]) for n in got_alice] == [
        (n["id"], n["sequence"]) for n in await _inbox(gql, alice)
    ]
    assert [(n["id"], n["sequence"]) for n in got_bob] == [
        (n["id"], n["sequence"]) for n in await _inbox(gql, bob)
    ]
    assert not {n["id"] for n in got_alice} & {n["id"] for n in got_bob}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_anonymous_socket_gets_no_notifications(server, gql, protocol):
    async with socket(server, protocol) as sock:
        await sock.subscribe("n", NOTES, {"since": 0})
        message = await sock.recv()
        assert message["type"] in ("error", "next", "data"), message
        payload = message["payload"]
        errors = payload if isinstance(payload, list) else payload.get("errors") or [payload]
        assert errors[0]["extensions"]["code"] == "NOT_AUTHENTICATED", message


async def test_over_server_sent_events(server, gql):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    await bid(gql, alice, auction_id, "100")
    await bid(gql, bob, auction_id, "200")
    body = {"query": NOTES, "variables": {"since": 0}}
    headers = {"accept": "text/event-stream", "authorization": f"Bearer {alice.token}"}
    seen: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=server, timeout=10) as client,
        client.stream("POST", "/graphql", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if not line.startswith("data:") or "myNotifications" not in line:
                continue
            seen.append(json.loads(line[5:])["data"]["myNotifications"])
            if len(seen) == 1:  # replayed; the next one comes live
                await bid(gql, alice, auction_id, "300")
                await bid(gql, bob, auction_id, "400")
            else:
                break
    assert [n["sequence"] for n in seen] == [1, 2]


async def _listeners(pg: asyncpg.Connection) -> int:
    found = await pg.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gavel-notifications'"
    )
    return int(found)


async def test_a_wake_up_lost_while_the_listener_is_down_only_delays(server, gql, settings):
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    pg = await asyncpg.connect(
        (settings.database_url or "").replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        async with socket(server, TRANSPORT_WS, _auth(alice)) as sock:
            await sock.subscribe("n", NOTES, {"since": 0})
            await bid(gql, alice, auction_id, "100")
            await bid(gql, bob, auction_id, "200")
            assert (await _note(sock, "n"))["sequence"] == 1

            # Every listener's connection dies; the outbid commits while none listens.
            await pg.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'gavel-notifications'"
            )
            await bid(gql, alice, auction_id, "300")
            await bid(gql, bob, auction_id, "400")
            deadline = time.monotonic() + 5
            while not await pg.fetchval(
                "SELECT count(*) FROM notifications WHERE user_id = $1 AND seq = 2",
                uuid.UUID(alice.id),
            ):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            assert await _listeners(pg) == 0, "the NOTIFY should have found no listener"

            late = await _note(sock, "n", wait=10)  # after the reconnect, not the 30 s poll
            assert late["sequence"] == 2
            await sock.assert_quiet()
    finally:
        await pg.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_banned_accounts_stream_ends(server, gql, app, protocol):
    """A private stream is not kept by an account that may no longer read it."""
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    async with socket(server, protocol, _auth(alice)) as sock:
        await sock.subscribe("n", NOTES, {"since": 0})
        await bid(gql, alice, auction_id, "100")
        await bid(gql, bob, auction_id, "200")
        assert (await _note(sock, "n"))["sequence"] == 1
        await moderation.set_banned(app.state.deps, uuid.UUID(alice.id), True)
        await asyncio.sleep(2.5)  # the server's 2 s account cache
        # A notification for alice wakes her stream, which checks her account first.
        async with app.state.deps.uow() as uow:
            note = NewNotification(user_id=uuid.UUID(alice.id), kind="OUTBID", message="x")
            await add_notifications(uow.session, [note])
            await uow.commit()
        message = await sock.recv()
        # The ban voided alice's bid: its BIDS_VOIDED notice may reach her stream within
        # the account cache's 2 s, before the ban does; the stream ends right after.
        while message.get("type") in ("next", "data") and not message["payload"].get("errors"):
            message = await sock.recv()
        assert message.get("id") == "n", message
        payload = message["payload"]
        errors = payload if isinstance(payload, list) else payload.get("errors") or [payload]
        assert errors[0]["extensions"]["code"] == "ACCOUNT_BANNED", message
