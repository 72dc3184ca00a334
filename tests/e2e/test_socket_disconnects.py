"""A client that goes away mid-subscription is no server error: nothing is logged as one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from devservers.app_server import app_server
from settings import Settings
from tests.conftest import GQL
from tests.e2e.test_subscriptions import PROTOCOLS, SUBSCRIBE, Socket, live_auction
from tests.helpers import BID, register


@pytest.fixture(scope="module")
def logged_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("disconnects") / "server.log"
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-disconnects-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
    }
    with app_server(env, log_file=log) as base:
        yield base, log


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_subscriber_that_vanishes_is_not_an_unexpected_error(logged_server, protocol):
    server, log = logged_server
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        gql = GQL(client)
        seller, bidder = await register(gql, seller=True), await register(gql)
        auction_id = await live_auction(gql, seller)
        url = server.replace("http://", "ws://") + "/graphql"
        for _ in range(3):
            ws = await connect(url, subprotocols=[protocol], open_timeout=10)
            sock = Socket(ws, protocol)
            assert (await sock.init())["type"] == "connection_ack"
            await sock.subscribe("1", SUBSCRIBE, {"id": auction_id, "since": 0})
            ws.transport.abort()  # gone without a close frame
        amounts = ["100.00", "110.00", "120.00"]
        for amount in amounts:
            body = await gql(BID, {"id": auction_id, "amount": amount}, token=bidder.token)
            assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
        await asyncio.sleep(1.0)  # the server notices the dead sockets while sending
        healthy = await client.get("/healthz")
        assert healthy.status_code == 200
    text = log.read_text(errors="replace")
    assert "unexpected error" not in text.lower(), text[-3000:]
    assert "Traceback" not in text, text[-3000:]
