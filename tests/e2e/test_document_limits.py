"""Document limits on the streaming transports (schema/limits.py): a subscription document
whose fragments expand to 2^40 fields, or with too many aliases, is refused with its code
over graphql-transport-ws, graphql-ws and server-sent events, quickly (the library
limiters once took time exponential in the chain: this one would never have finished)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devservers.app_server import app_server
from settings import Settings
from tests.e2e.test_subscriptions import LEGACY_WS, PROTOCOLS, TRANSPORT_WS, socket

UPDATED = "auctionUpdated(auctionId: $id) { sequence }"
CHAIN = "subscription S($id: ID!) { ...F40 } " + " ".join(
    [f"fragment F0 on Subscription {{ {UPDATED} }}"]
    + [f"fragment F{i} on Subscription {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 41)]
)
ALIASES = (
    "subscription S($id: ID!) { auctionUpdated(auctionId: $id) { "
    + " ".join(f"s{i}: sequence" for i in range(31))
    + " } }"
)
CASES = {"QUERY_TOO_COMPLEX": CHAIN, "TOO_MANY_ALIASES": ALIASES}
AUCTION = "00000000-0000-4000-8000-000000000000"  # refused before it is looked up
QUICK = 2.0  # seconds for the whole round trip; the validation itself is far below


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-limits-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
    }
    with app_server(env) as base:
        yield base


def codes(errors: Any) -> list[str]:
    assert isinstance(errors, list), errors
    return [error["extensions"]["code"] for error in errors]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("code", sorted(CASES))
async def test_limits_refuse_subscriptions_over_websockets(server, protocol, code):
    async with socket(server, protocol) as sock:
        started = time.perf_counter()
        await sock.subscribe("op", CASES[code], {"id": AUCTION})
        message = await sock.recv(wait=QUICK)
        elapsed = time.perf_counter() - started
        assert message["id"] == "op", message
        if protocol == TRANSPORT_WS:
            assert message["type"] == "error", message
            assert codes(message["payload"]) == [code]
        else:
            assert protocol == LEGACY_WS
            assert message["type"] == "error", message
            assert codes([message["payload"]]) == [code]  # graphql-ws: one error object
        assert elapsed < QUICK, elapsed
        await sock.subscribe("next", CASES[code], {"id": AUCTION})  # the socket still serves
        assert (await sock.recv(wait=QUICK))["id"] == "next"


@pytest.mark.parametrize("code", sorted(CASES))
async def test_limits_refuse_subscriptions_over_server_sent_events(server, code):
    body = {"query": CASES[code], "variables": {"id": AUCTION}}
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        started = time.perf_counter()
        response = await client.post("/graphql", json=body, headers={"accept": "text/event-stream"})
        elapsed = time.perf_counter() - started
    assert elapsed < QUICK, elapsed
    if response.headers["content-type"].startswith("application/json"):
        answer = response.json()
    else:
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        answer = json.loads(next(d for d in data if "errors" in d))
    assert codes(answer["errors"]) == [code], answer
