"""An operation that fails unexpectedly while streaming is answered with an error carrying
INTERNAL and an error id: an `error` message, never a bare `complete` (graphql-transport-ws)
or silence (graphql-ws); over server-sent events an error event, then `complete`, never a
cut stream. Strawberry's handlers run against an in-memory socket, the view in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Mapping
from datetime import timedelta
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types.unset import UNSET

from schema.request_errors import GavelSchema
from schema.socket_protocols import LegacyWSHandler, TransportWSHandler


@strawberry.type
class Query:
    hello: str = "hi"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int]:
        yield 1


class FailsAfterwards(SchemaExtension):
    """A bug of ours: the operation's bookkeeping fails once its result is out."""

    def on_operation(self) -> Iterator[None]:
        yield
        raise RuntimeError("bookkeeping failed")


SCHEMA = GavelSchema(query=Query, subscription=Subscription, extensions=[FailsAfterwards])


class MemorySocket:
    """Hands the handler `incoming`, then waits until it answered `until` messages."""

    def __init__(self, incoming: list[dict[str, Any]], until: int) -> None:
        self.incoming = incoming
        self.until = until
        self.sent: list[dict[str, Any]] = []
        self.ws = object()  # what live delivery would write to; unused here
        self.answered = asyncio.Event()

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        for message in self.incoming:
            yield message
        await asyncio.wait_for(self.answered.wait(), 5)

    async def send_json(self, message: Mapping[str, object]) -> None:
        self.sent.append(dict(message))
        if len(self.sent) >= self.until:
            self.answered.set()

    async def close(self, code: int, reason: str) -> None:
        self.sent.append({"closed": code})
        self.answered.set()


class View:
    async def on_ws_connect(self, context: Any) -> Any:
        return UNSET

    async def refresh_socket_viewer(self, context: Any) -> None:
        return None  # an anonymous socket: nothing to re-check


async def test_graphql_transport_ws_answers_an_error_not_a_bare_complete():
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": "subscription { ticks }"}}
    sock = MemorySocket([{"type": "connection_init"}, subscribe], until=3)
    handler = TransportWSHandler(
        view=View(),  # type: ignore[arg-type]
        websocket=sock,  # type: ignore[arg-type]
        context={},
        root_value=None,
        schema=SCHEMA,
        connection_init_wait_timeout=timedelta(seconds=5),
    )
    await handler.handle()
    kinds = [m.get("type") for m in sock.sent]
    assert kinds[:2] == ["connection_ack", "next"], sock.sent
    error = sock.sent[2]
    assert error["type"] == "error" and error["id"] == "1", sock.sent
    assert error["payload"][0]["extensions"]["code"] == "INTERNAL"
    assert "complete" not in kinds


async def test_graphql_ws_answers_an_error_not_silence():
    start = {"id": "1", "type": "start", "payload": {"query": "subscription { ticks }"}}
    sock = MemorySocket([{"type": "connection_init"}, start], until=3)
    handler = LegacyWSHandler(
        view=View(),  # type: ignore[arg-type]
        websocket=sock,  # type: ignore[arg-type]
        context={},
        root_value=None,
        schema=SCHEMA,
        keep_alive=False,
        keep_alive_interval=None,
    )
    await handler.handle()
    kinds = [m.get("type") for m in sock.sent]
    assert kinds[:2] == ["connection_ack", "data"], sock.sent
    error = sock.sent[2]
    assert error["type"] == "error" and error["id"] == "1", sock.sent
    assert error["payload"]["extensions"]["code"] == "INTERNAL"


async def test_server_sent_events_end_with_an_error_event_not_a_cut():
    """The same failure over server-sent events: a `next` event with INTERNAL, then
    `complete`; the response ends normally."""
    import json
    from types import SimpleNamespace

    import httpx

    from schema.app import GavelGraphQL

    view = GavelGraphQL(SCHEMA, SimpleNamespace(bus=None), max_page=10)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=view)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        response = await client.post(
            "/",
            json={"query": "subscription { ticks }"},
            headers={"accept": "text/event-stream"},
        )
    events = [
        (block.split("\r\n")[0], block.split("\r\n")[1][5:].strip())
        for block in response.text.split("\r\n\r\n")
        if block.startswith("event:")
    ]
    assert [kind for kind, _ in events] == ["event: next", "event: next", "event: complete"]
    assert json.loads(events[0][1]) == {"data": {"ticks": 1}}
    error = json.loads(events[1][1])["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL" and error["extensions"]["errorId"]
