"""The strawberry ASGI app: authenticates each request and builds its context.

HTTP requests authenticate with their `Authorization: Bearer <token>` header (also
subscriptions over server-sent events: `Accept: text/event-stream`). WebSockets
(graphql-transport-ws and the legacy graphql-ws) authenticate with the `connection_init`
payload `{"authorization": "Bearer <token>"}`; no payload, or none of that key, leaves the
socket anonymous. A refused token closes the socket with 4401 (invalid, expired, unknown
account) or 4403 (banned account). Strawberry itself refuses any operation sent before
the `connection_init` was acknowledged (close 4401 "Unauthorized", on both protocols).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)

from adapters.client_address import client_ip
from domain.errors import DomainError
from realtime.broadcast import BoundedBroadcast
from realtime.stream import EventSource
from schema import compiled_bid
from schema.compiled_bid import Compiler
from schema.context import GavelContext, Loaders
from schema.live_delivery import LegacyWSHandler, LiveDelivery, TransportWSHandler
from schema.shared_events import shared_payload_text
from services import accounts
from services.deps import Deps

# Where `on_ws_connect` leaves the close code for a refused socket (in the ASGI scope).
_CLOSE_KEY = "gavel.ws_close"
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


@dataclass
class SocketContext(GavelContext):
    """A WebSocket's context: one per socket. Strawberry stores the `connection_init`
    payload in `connection_params` (it checks for the attribute) before `on_ws_connect`."""

    connection_params: dict[str, Any] | None = None


class SocketRejected(ConnectionRejectionError):
    def __init__(self, close_code: int, err: DomainError) -> None:
        super().__init__({"code": err.code, "message": err.message})
        self.close_code = close_code


class GavelSocket(ASGIWebSocketAdapter):
    """Strawberry closes a rejected socket with fixed codes (4403 on graphql-transport-ws,
    1011 on graphql-ws); this adapter substitutes the code `on_ws_connect` chose.

    A `next` (graphql-transport-ws) or `data` (graphql-ws) message whose payload is a
    shared event result is sent as the payload's text encoded once for all subscribers,
    wrapped in this subscriber's operation id (schema/shared_events.py)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        kind = message.get("type")
        if kind == "next" or kind == "data":
            text = shared_payload_text(message.get("payload"))
            if text is not None:
                operation = orjson.dumps(message["id"]).decode()
                try:
                    await self.ws.send_text(
                        f'{{"id":{operation},"type":"{kind}","payload":{text}}}'
                    )
                except WebSocketDisconnect as exc:
                    raise WebSocketDisconnected from exc
                return
        await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        chosen = self.ws.scope.get(_CLOSE_KEY)
        if chosen is not None:
            code, reason = chosen
        await super().close(code, reason)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # disconnected: the normal path sees the same
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body over once, then listens on."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _close_reason(err: DomainError) -> str:
    # A close frame's reason is at most 123 bytes.
    return f"{err.code}: {err.message}".encode()[:123].decode(errors="ignore")


class GavelGraphQL(GraphQL[GavelContext, None]):
    websocket_adapter_class = GavelSocket
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        schema: Any,
        deps: Deps,
        *,
        max_page: int,
        compiler: Compiler | None = None,
        **kwargs: Any,
    ) -> None:
        # Server-sent events serve subscriptions to clients without WebSockets.
        protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL)
        super().__init__(
            schema, multipart_uploads_enabled=True, subscription_protocols=protocols, **kwargs
        )
        self.deps = deps
        self.max_page = max_page
        self.compiler = compiler  # placeBid/buyNow documents it can compile skip execution
        self.compiled_answers = 0
        # Subscriptions need the composition root's bus (a BoundedBroadcast).
        self.live = (
            LiveDelivery(EventSource(slots=deps.slots, uow=deps.uow, bus=deps.bus))
            if isinstance(deps.bus, BoundedBroadcast)
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.compiler is not None and scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            if headers.get(b"content-type", b"").startswith(b"application/json"):
                body = await _read_body(receive)
                if await self._compiled(headers, body, send, scope):
                    return
                receive = _replay(body, receive)
        await super().__call__(scope, receive, send)

    async def _compiled(
        self, headers: dict[bytes, bytes], body: bytes, send: Send, scope: Scope
    ) -> bool:
        """Answer a compiled placeBid/buyNow (schema/compiled_bid.py); False if the
        request needs the normal path, which nothing here has changed anything for."""
        assert self.compiler is not None
        accept = headers.get(b"accept", b"")
        if b"text/event-stream" in accept or b"multipart/" in accept:
            return False
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(request, dict) or request.get("extensions"):
            return False
        query, name = request.get("query"), request.get("operationName")
        if not isinstance(query, str) or not (name is None or isinstance(name, str)):
            return False
        compiled = self.compiler.plan(query, name)
        if compiled is None:
            return False
        token = bearer(headers.get(b"authorization", b"").decode("latin-1") or None)
        if not token:
            return False
        try:
            viewer = await accounts.user_for_access_token(self.deps, token)
        except DomainError:
            return False
        call = compiled_bid.prepare(self.compiler.schema, compiled, request.get("variables"))
        if call is None:
            return False
        ip = client_ip(scope, self.deps.trusted_proxies)
        answer = self.encode_json(await compiled_bid.run(self.deps, viewer, call, ip=ip)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})
        self.compiled_answers += 1
        return True

    def encode_json(self, data: object) -> str:
        # orjson is several times faster than the stdlib encoder strawberry uses; text (not
        # bytes) keeps WebSocket messages in text frames. Integers beyond 64 bits, which
        # orjson refuses, fall back to the stdlib.
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:
            return json.dumps(data, separators=(",", ":"))

    async def get_context(self, request: Request | WebSocket, response: Any) -> GavelContext:
        context_class = SocketContext if isinstance(request, WebSocket) else GavelContext
        ctx = context_class(
            deps=self.deps,
            loaders=Loaders.create(self.deps),
            max_page=self.max_page,
            live=self.live,
            request=request,
            response=response,
        )
        token = bearer(request.headers.get("authorization"))
        if token is not None:
            await self.authenticate(ctx, token)
        return ctx

    async def authenticate(self, ctx: GavelContext, token: str) -> None:
        if not token:
            ctx.auth_error = ("INVALID_TOKEN", "the Authorization header must be 'Bearer <token>'")
            return
        try:
            ctx.viewer = await accounts.user_for_access_token(self.deps, token)
        except DomainError as err:
            ctx.auth_error = (err.code, err.message)

    async def on_ws_connect(self, context: GavelContext) -> None:
        """`connection_init` on either protocol: authenticate the socket or refuse it."""
        params = getattr(context, "connection_params", None) or {}
        header = params.get("authorization", params.get("Authorization"))
        if header is None:
            return  # anonymous (or authenticated by a header on the upgrade request)
        token = bearer(header) if isinstance(header, str) else ""
        if not token:
            self._refuse(
                context,
                CLOSE_UNAUTHORIZED,
                DomainError(
                    "connection_init authorization must be 'Bearer <token>'",
                    code="INVALID_TOKEN",
                ),
            )
        try:
            user = await accounts.user_for_access_token(self.deps, token)
        except DomainError as err:
            banned = err.code == "ACCOUNT_BANNED"
            self._refuse(context, CLOSE_FORBIDDEN if banned else CLOSE_UNAUTHORIZED, err)
        context.viewer = user
        context.auth_error = None

    def _refuse(self, context: GavelContext, close_code: int, err: DomainError) -> NoReturn:
        context.viewer = None
        context.auth_error = (err.code, err.message)
        context.request.scope[_CLOSE_KEY] = (close_code, _close_reason(err))
        raise SocketRejected(close_code, err)
