"""Unstorable strings on the live transports (issue 12 item 5): subscriptions over both
WebSocket protocols and server-sent events, and connection_init tokens, against the real
server. Raw JSON escapes are sent as text, so "\\ud800" arrives as a lone surrogate."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.test_subscriptions import (
    LEGACY_WS,
    NO_INIT,
    PROTOCOLS,
    SUBSCRIBE,
    TRANSPORT_WS,
    bid,
    gql,
    live_auction,
    server,
    socket,
)
from tests.helpers import register

__all__ = ["gql", "server"]  # fixtures, shared with the subscription tests

UNSTORABLE = ["\\u0000", "\\ud800", "\\u001b", "\\u0085"]


def subscribe_text(protocol: str, op: str, variables_json: str) -> str:
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    payload = f'{{"query": {json.dumps(SUBSCRIBE)}, "variables": {variables_json}}}'
    return f'{{"id": "{op}", "type": "{kind}", "payload": {payload}}}'


def first_code(message: dict[str, Any]) -> str:
    payload = message["payload"]
    # graphql-transport-ws: a list of errors; graphql-ws: one error, or a result with errors
    errors = payload if isinstance(payload, list) else payload.get("errors", [payload])
    code: str = errors[0]["extensions"]["code"]
    return code


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscription_arguments_are_checked(server, gql, protocol):
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    async with socket(server, protocol) as sock:
        for index, bad in enumerate(UNSTORABLE):
            op = f"op{index}"
            variables = f'{{"id": "{auction_id}", "extra": "x{bad}y"}}'
            await sock.ws.send(subscribe_text(protocol, op, variables))
            message = await sock.recv()
            assert message["id"] == op and message["type"] in ("next", "data", "error"), message
            assert first_code(message) == "INVALID_INPUT", message
            if message["type"] != "error":
                assert await sock.recv() == {"type": "complete", "id": op}
        # The socket still serves a clean subscription.
        await bid(gql, await register(gql), auction_id, "100")
        await sock.subscribe("ok", SUBSCRIBE, {"id": auction_id, "since": 0})
        first = await sock.result("ok")
        assert first["data"]["auctionUpdated"]["sequence"] >= 1, first


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("bad", ["\\ud800", "\\u0000", "\\u00e9"])
async def test_connection_init_token_with_odd_characters_closes_4401(server, protocol, bad):
    async with socket(server, protocol, NO_INIT) as sock:
        await sock.ws.send(
            f'{{"type": "connection_init", "payload": {{"authorization": "Bearer abc{bad}"}}}}'
        )
        if protocol == LEGACY_WS:
            message = await sock.recv()
            assert message["type"] == "connection_error", message
        assert await sock.close_code() == 4401


async def test_server_sent_events_check_arguments(server, gql):
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    for bad in UNSTORABLE:
        body = (
            f'{{"query": {json.dumps(SUBSCRIBE)},'
            f' "variables": {{"id": "{auction_id}", "since": 0, "x": "a{bad}"}}}}'
        )
        async with httpx.AsyncClient(base_url=server, timeout=10) as client:
            response = await client.post(
                "/graphql",
                content=body.encode(),
                headers={"accept": "text/event-stream", "content-type": "application/json"},
            )
        events = [
            json.loads(line[5:])
            for line in response.text.splitlines()
            if line.startswith("data:") and line[5:].strip()
        ]
        if response.headers["content-type"].startswith("application/json"):
            events = [response.json()]
        errors = [e for e in events if isinstance(e, dict) and e.get("errors")]
        assert errors, (bad, response.status_code, response.text[:500])
        assert errors[0]["errors"][0]["extensions"]["code"] == "INVALID_INPUT", response.text


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unstorable_operation_name_over_websocket(server, protocol):
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    async with socket(server, protocol) as sock:
        payload = f'{{"query": {json.dumps(SUBSCRIBE)}, "operationName": "A\\ud800"}}'
        await sock.ws.send(f'{{"id": "1", "type": "{kind}", "payload": {payload}}}')
        message = await sock.recv()
        assert message["id"] == "1" and first_code(message) == "INVALID_INPUT", message
