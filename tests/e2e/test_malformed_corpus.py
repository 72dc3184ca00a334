"""The same malformed requests over every transport of a real server, compared.

HTTP POST and GET, server-sent events (`Accept: text/event-stream`), graphql-transport-ws
and graphql-ws, against uvicorn in its own process over real sockets: each answers every
document of tests/malformed.py with a JSON GraphQL error carrying the same
`extensions.code` (never INTERNAL, never text/plain), and each socket or stream stays
usable: a valid operation on the same socket afterwards works (issue 12, item 2).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from devservers.app_server import app_server
from settings import Settings
from tests.conftest import GQL
from tests.e2e.test_subscriptions import SMALL, Socket, bid, live_auction, socket
from tests.helpers import register
from tests.malformed import (
    CORPUS,
    GET,
    LEGACY_WS,
    NO_SUCH_AUCTION,
    POST,
    SSE,
    TRANSPORT_WS,
    Case,
    unmet,
)

Codes = list[Any]


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-malformed-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
    }
    with app_server(env) as base:
        yield base


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=15) as c:
        yield c


def cases_for(transport: str) -> list[Case]:
    return [c for c in CORPUS if transport in c.transports and not unmet(c)]


def codes_in(errors: Any) -> Codes:
    assert isinstance(errors, list) and errors, errors
    return [e.get("extensions", {}).get("code") for e in errors]


def json_codes(response: httpx.Response) -> Codes:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    return codes_in(body.get("errors"))


async def over_post(client: httpx.AsyncClient, case: Case) -> Codes:
    return json_codes(await client.post("/graphql", json=case.request))


async def over_get(client: httpx.AsyncClient, case: Case) -> Codes:
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in case.request.items()}
    return json_codes(await client.get("/graphql", params=params))


async def over_sse(client: httpx.AsyncClient, case: Case) -> Codes:
    """A request refused before streaming answers JSON; a document refused in the stream
    is one `next` event with the errors, then `complete`: the stream ends cleanly."""
    async with client.stream(
        "POST", "/graphql", json=case.request, headers={"accept": "text/event-stream"}
    ) as response:
        if response.headers["content-type"].startswith("application/json"):
            await response.aread()
            return json_codes(response)
        assert response.headers["content-type"].startswith("text/event-stream")
        events: list[tuple[str, str]] = []
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                events.append((kind, line[5:].strip()))
                if kind == "complete":
                    break
    assert [k for k, _ in events] == ["next", "complete"], events
    return codes_in(json.loads(events[0][1]).get("errors"))


async def over_transport_ws(sock: Socket, case: Case, op: str) -> Codes:
    """A document refused before execution: an `error` message for the operation. A query
    whose variables do not coerce: a `next` with the errors, then `complete` (strawberry
    runs queries through execution, where graphql-core coerces variables)."""
    await sock.send({"id": op, "type": "subscribe", "payload": case.request})
    message = await sock.recv()
    assert message["id"] == op and message["type"] in ("error", "next"), message
    if message["type"] == "error":
        return codes_in(message["payload"])
    assert message["payload"]["data"] is None, message
    assert await sock.recv() == {"id": op, "type": "complete"}
    return codes_in(message["payload"]["errors"])


async def over_legacy_ws(sock: Socket, case: Case, op: str) -> Codes:
    await sock.send({"id": op, "type": "start", "payload": case.request})
    message = await sock.recv()
    assert message["id"] == op and message["type"] == "error", message
    return codes_in([message["payload"]])


def check(answers: dict[str, Codes], transport: str) -> None:
    by_name = {c.name: c for c in CORPUS}
    wrong = {
        name: codes
        for name, codes in answers.items()
        if not all(by_name[name].accepts(code) for code in codes)
    }
    assert not wrong, f"{transport}: {wrong}"


async def test_http_post_and_get(client):
    post = {c.name: await over_post(client, c) for c in cases_for(POST)}
    get = {c.name: await over_get(client, c) for c in cases_for(GET)}
    check(post, POST)
    check(get, GET)
    for name in post.keys() & get.keys():
        assert post[name][0] == get[name][0], (name, post[name], get[name])
    ok = await client.post("/graphql", json={"query": "{ categories }"})
    assert "cameras" in ok.json()["data"]["categories"]


async def test_server_sent_events(client):
    sse = {c.name: await over_sse(client, c) for c in cases_for(SSE)}
    check(sse, SSE)
    post = {c.name: await over_post(client, c) for c in cases_for(SSE) if POST in c.transports}
    for name in post:
        assert sse[name][0] == post[name][0], (name, sse[name], post[name])
    events = []
    async with client.stream(
        "POST",
        "/graphql",
        json={"query": "{ categories }"},
        headers={"accept": "text/event-stream"},
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:") and "categories" in line:
                events.append(json.loads(line[5:]))
                break
    assert "cameras" in events[0]["data"]["categories"]


async def test_graphql_transport_ws(server, client):
    async with socket(server, TRANSPORT_WS) as sock:
        answers = {
            c.name: await over_transport_ws(sock, c, f"bad-{i}")
            for i, c in enumerate(cases_for(TRANSPORT_WS))
        }
        # The same socket still serves: a query, then its completion.
        await sock.send({"id": "ok", "type": "subscribe", "payload": {"query": "{ categories }"}})
        result = await sock.result("ok")
        assert "cameras" in result["data"]["categories"]
        assert (await sock.recv()) == {"id": "ok", "type": "complete"}
    check(answers, TRANSPORT_WS)
    post = {
        c.name: await over_post(client, c) for c in cases_for(TRANSPORT_WS) if POST in c.transports
    }
    for name in post:
        assert answers[name][0] == post[name][0], (name, answers[name], post[name])


async def test_graphql_ws(server, client):
    gql = GQL(client)
    seller, bidder = await register(gql, seller=True), await register(gql)
    auction_id = await live_auction(gql, seller)
    await bid(gql, bidder, auction_id, "100")
    async with socket(server, LEGACY_WS) as sock:
        answers = {
            c.name: await over_legacy_ws(sock, c, f"bad-{i}")
            for i, c in enumerate(cases_for(LEGACY_WS))
        }
        # The same socket still serves: a subscription replays the auction's bid.
        await sock.subscribe("ok", SMALL, {"id": auction_id})
        assert await sock.result("ok") == {
            "data": {"auctionUpdated": {"sequence": 1, "kind": "BID_ACCEPTED"}}
        }
    check(answers, LEGACY_WS)
    post = {
        c.name: await over_post(client, c) for c in cases_for(LEGACY_WS) if POST in c.transports
    }
    for name in post:
        assert answers[name][0] == post[name][0], (name, answers[name], post[name])


async def test_operation_types_a_transport_does_not_serve(server, client):
    """A subscription over a plain POST, a mutation over GET, a query over graphql-ws:
    OPERATION_NOT_SUPPORTED, as JSON, and the socket stays open."""
    subscription = f'subscription {{ auctionUpdated(auctionId: "{NO_SUCH_AUCTION}") {{ kind }} }}'
    response = await client.post("/graphql", json={"query": subscription})
    assert (response.status_code, json_codes(response)) == (400, ["OPERATION_NOT_SUPPORTED"]), (
        response.text
    )
    response = await client.get("/graphql", params={"query": "mutation { becomeSeller { ok } }"})
    assert (response.status_code, json_codes(response)) == (405, ["OPERATION_NOT_SUPPORTED"])
    async with socket(server, LEGACY_WS) as sock:
        await sock.send({"id": "q", "type": "start", "payload": {"query": "{ categories }"}})
        message = await sock.recv()
        assert message["type"] == "error" and codes_in([message["payload"]]) == [
            "OPERATION_NOT_SUPPORTED"
        ]
        await sock.send({"id": "q2", "type": "start", "payload": {"query": "{ categories }"}})
        assert (await sock.recv())["id"] == "q2"


async def test_messages_that_carry_no_operation(server):
    """Protocol-level garbage: graphql-transport-ws closes with 4400 (its protocol), the
    legacy protocol answers an error for the operation and keeps the socket."""
    async with socket(server, TRANSPORT_WS) as sock:
        await sock.send({"id": "x", "type": "subscribe", "payload": "{ categories }"})
        assert await sock.close_code() == 4400
    async with socket(server, TRANSPORT_WS) as sock:
        await sock.ws.send("[1, 2]")
        assert await sock.close_code() == 4400
    async with socket(server, LEGACY_WS) as sock:
        await sock.ws.send("[1, 2]")
        await sock.send({"id": "x", "payload": {"query": "{ categories }"}})  # no type
        await sock.send({"type": "stop"})  # no id
        await sock.send({"type": "start", "payload": {"query": "{ categories }"}})  # no id
        await sock.send({"id": "x", "type": "start", "payload": "{ categories }"})
        message = await sock.recv()
        assert message["id"] == "x" and codes_in([message["payload"]]) == ["BAD_REQUEST"]
