"""The strawberry ASGI app: authenticates each request and builds its context.

HTTP requests authenticate with their `Authorization: Bearer <token>` header (also
subscriptions over server-sent events: `Accept: text/event-stream`). WebSockets
(graphql-transport-ws and the legacy graphql-ws) authenticate with the `connection_init`
payload `{"authorization": "Bearer <token>"}`; no payload, or none of that key, leaves the
socket anonymous. A refused token closes the socket with 4401 (invalid, expired, unknown
account) or 4403 (banned account). Strawberry itself refuses any operation sent before
the `connection_init` was acknowledged (close 4401 "Unauthorized", on both protocols).
The socket keeps its token, and every later operation re-checks the account with it
(`refresh_socket_viewer`, schema/socket_auth.py), with the same close codes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, NoReturn

import orjson
from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from adapters import metrics
from adapters.client_address import client_ip
from adapters.ws_limits import LiveConnections
from domain.errors import DomainError
from schema import compiled_bid, graphiql
from schema.compiled_bid import Compiler
from schema.context import GavelContext, Loaders
from schema.errors import log_unexpected, unexpected_message
from schema.live_delivery import LegacyWSHandler, LiveDelivery, TransportWSHandler
from schema.outage import SocketUnavailable
from schema.request_errors import (
    BAD_REQUEST,
    OPERATION_NOT_SUPPORTED,
    REQUEST_REFUSALS,
    error_code,
)
from schema.shared_events import shared_payload_text
from schema.socket_auth import SocketAuthRefused
from services import accounts
from services.deps import Deps
from services.limits import RateLimited
from services.unavailable import Unavailable

# Where `on_ws_connect` leaves the close code for a refused socket (in the ASGI scope).
_CLOSE_KEY = "gavel.ws_close"
# Where `get_context` leaves an upgrade request's failed authentication for `on_ws_connect`.
_UNAVAILABLE_KEY = "gavel.unavailable"
# Operations one WebSocket may run at once, on either protocol (strawberry refuses one
# more with an `error` message "Subscription limit reached"; the socket stays open). An
# SSE stream carries one subscription, counted among its address's live connections.
SUBSCRIPTIONS_PER_CONNECTION = 100
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
    # The access token the socket authenticated with (connection_init, else the upgrade
    # request's header): every later operation re-checks the account with it.
    token: str | None = None


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


def http_refusal(
    status: int, message: str, *, code: str | None = None, error_id: str | None = None
) -> Response:
    """A request refused before any GraphQL ran, as a JSON GraphQL error response."""
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    extensions: dict[str, str] = {"code": code or codes.get(status, BAD_REQUEST)}
    if error_id is not None:
        extensions["errorId"] = error_id
    return JSONResponse(
        {"errors": [{"message": message, "extensions": extensions}]}, status_code=status
    )


# The seconds a client refused for too many live connections is told to wait: a place
# frees when one of its own streams or sockets ends, which no clock predicts.
STREAM_RETRY_AFTER = 5


def _too_many_streams(per_ip: int) -> Response:
    err = RateLimited(f"live connections from this address (at most {per_ip})", STREAM_RETRY_AFTER)
    error = {
        "message": err.message,
        "extensions": {"code": err.code, "retryAfter": err.retry_after},
    }
    return JSONResponse(
        {"errors": [error]}, status_code=429, headers={"Retry-After": str(err.retry_after)}
    )


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
        live: LiveDelivery | None = None,
        compiler: Compiler | None = None,
        live_connections: LiveConnections | None = None,
        **kwargs: Any,
    ) -> None:
        # Server-sent events serve subscriptions to clients without WebSockets.
        protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL)
        super().__init__(
            schema,
            multipart_uploads_enabled=True,
            subscription_protocols=protocols,
            max_subscriptions_per_connection=SUBSCRIPTIONS_PER_CONNECTION,
            **kwargs,
        )
        self.deps = deps
        self.max_page = max_page
        self.compiler = compiler  # placeBid/buyNow documents it can compile skip execution
        self.compiled_answers = 0
        # Streamed answers (server-sent events) share the WebSockets' places per address.
        self.live_connections = live_connections
        # Subscriptions' shared live feeds, built by the composition root (None: no
        # subscriptions in this app).
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._answer_http(scope, receive, send)
        elif scope["type"] == "websocket":
            metrics.WEBSOCKETS_OPEN.inc()
            try:
                await super().__call__(scope, receive, send)
            finally:
                metrics.WEBSOCKETS_OPEN.dec()
        else:
            await super().__call__(scope, receive, send)

    async def _answer_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The compiled bid path, else strawberry's HTTP handling; either way every refusal
        is a JSON GraphQL error: strawberry answers its own HTTPExceptions (a body that is
        not JSON, a `query` that is not a string, ...) as text/plain, and the server
        anything unexpected as a bare 500."""
        started = False
        receive_failure: BaseException | None = None

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def watched_receive() -> Message:
            nonlocal receive_failure
            try:
                return await receive()
            except BaseException as exc:  # the server's or a middleware's (a body limit)
                receive_failure = exc
                raise

        try:
            await self._answer_http_request(scope, watched_receive, tracking_send)
        except Exception as exc:
            if started or exc is receive_failure or isinstance(exc, ClientDisconnect):
                raise
            if isinstance(exc, Unavailable):
                raise  # a dependency's outage, answered 503 UNAVAILABLE by schema/outage.py
            error_id = log_unexpected(exc, "(HTTP)")
            answer = http_refusal(
                500, unexpected_message(error_id), code="INTERNAL", error_id=error_id
            )
            await answer(scope, receive, send)

    async def _answer_http_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request that asks for a streamed answer (server-sent events: strawberry's
        own choice of transport from `Accept`) holds one of its address's live-connection
        places until the answer ends or the client goes; one more is refused before it
        starts (429 RATE_LIMITED, adapters/ws_limits.py)."""
        if self.live_connections is None or not self._streamed(scope):
            await self._answer_unlimited(scope, receive, send)
            return
        ip = client_ip(scope, self.deps.trusted_proxies)
        with self.live_connections.held(ip) as admitted:
            if admitted:
                await self._answer_unlimited(scope, receive, send)
                return
        await _too_many_streams(self.live_connections.per_ip)(scope, receive, send)

    def _streamed(self, scope: Scope) -> bool:
        accept = ", ".join(
            value.decode("latin-1") for name, value in scope["headers"] if name == b"accept"
        )
        return self._get_stream_transport_from_headers({"accept": accept}) is not None

    async def _answer_unlimited(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.compiler is not None and scope["method"] == "POST":
            headers = dict(scope["headers"])
            if headers.get(b"content-type", b"").startswith(b"application/json"):
                body = await _read_body(receive)
                if await self._compiled(headers, body, send, scope):
                    return
                receive = _replay(body, receive)
        try:
            response = await self.run(Request(scope, receive=receive))
        except HTTPException as exc:
            response = http_refusal(exc.status_code, exc.reason)
        await response(scope, receive, send)

    async def create_streaming_response(
        self,
        request: Request | WebSocket,
        stream: Callable[[], AsyncIterator[str]],
        sub_response: Response,
        headers: Mapping[str, str],
    ) -> Response:
        """Server-sent events that end cleanly: an unexpected failure mid-stream is sent as
        a `next` event with an INTERNAL error (and its id), then `complete`, instead of a
        connection cut (the graphql-sse format strawberry streams)."""
        if headers.get("Content-Type") != "text/event-stream":
            return await super().create_streaming_response(request, stream, sub_response, headers)

        async def ending_cleanly() -> AsyncIterator[str]:
            metrics.SSE_STREAMS_OPEN.inc()
            try:
                async for chunk in stream():
                    yield chunk
            except Exception as exc:
                error_id = log_unexpected(exc, "(server-sent events)")
                error = {
                    "message": unexpected_message(error_id),
                    "extensions": {"code": "INTERNAL", "errorId": error_id},
                }
                data = self.encode_json({"data": None, "errors": [error]})
                yield f"event: next\r\ndata: {data}\r\n\r\nevent: complete\r\ndata: \r\n\r\n"
            finally:
                metrics.SSE_STREAMS_OPEN.dec()

        return await super().create_streaming_response(
            request, ending_cleanly, sub_response, headers
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our GraphiQL page: its assets come from this app, not a CDN (schema/graphiql.py).
        return graphiql.page(request.url.path)

    def decode_json(self, data: str | bytes) -> object:
        # JSON nested deeper than the interpreter's recursion limit is no JSON we take
        # (HTTP bodies: 400; WebSocket messages: the protocol's answer to a non-JSON one).
        try:
            return super().decode_json(data)
        except RecursionError as exc:
            raise json.JSONDecodeError("nested too deeply", "", 0) from exc

    def parse_json(self, data: str | bytes) -> Any:
        # strawberry turns only a JSONDecodeError into a 400: bytes that are not UTF-8
        # raise a plain ValueError.
        try:
            return self.decode_json(data)
        except ValueError as exc:
            raise HTTPException(400, "The request body is not valid JSON.") from exc

    async def parse_http_body(self, request: Any) -> Any:
        # A JSON body that is not an object (a number, a string, null) fails inside
        # strawberry on `.get`, as an AttributeError: refuse it as the bad request it is.
        try:
            return await super().parse_http_body(request)
        except (AttributeError, TypeError) as exc:
            raise HTTPException(400, "The request body must be a JSON object.") from exc

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: GavelContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """One operation as a plain (not streamed) HTTP answer. Unlike strawberry's, it does
        not start a subscription it cannot stream (its results would be lost) and sets
        the HTTP status of a refused request: 400, or 405 (and `Allow: POST`) for an
        operation GET does not serve, a mutation (GraphQL over HTTP); a document that
        parses and validates, or fails to, answers 200 as before."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        if not self.allow_queries_via_get and request_adapter.method == "GET":
            allowed.discard(OperationType.QUERY)
        result = await self.schema.execute(
            request_data.query,
            root_value=root_value,
            variable_values=request_data.variables,
            context_value=context,
            operation_name=request_data.operation_name,
            allowed_operation_types=allowed,
            operation_extensions=request_data.extensions,
        )
        codes = {error_code(e) for e in result.errors or ()}
        if codes & REQUEST_REFUSALS:
            sub_response.status_code = 400
            if request_adapter.method == "GET" and OPERATION_NOT_SUPPORTED in codes:
                sub_response.status_code = 405
                sub_response.headers["allow"] = "POST"
        return result

    async def _compiled(
        self, headers: dict[bytes, bytes], body: bytes, send: Send, scope: Scope
    ) -> bool:
        """Answer a compiled placeBid/buyNow (schema/compiled_bid.py); False if the
        request needs the normal path, which nothing here has changed anything for."""
        assert self.compiler is not None
        started = perf_counter()
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
        named = compiled.operation.name
        operation = metrics.OPERATIONS.histogram(named.value if named else None, "mutation")
        operation.observe(perf_counter() - started)
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
            try:
                await self.authenticate(ctx, token)
            except Unavailable as down:
                if not isinstance(request, WebSocket):
                    raise  # HTTP: answered whole by schema.outage.OutageGuard
                ctx.extra[_UNAVAILABLE_KEY] = down  # refused at connection_init
            if isinstance(ctx, SocketContext) and ctx.viewer is not None:
                ctx.token = token
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
            down = context.extra.pop(_UNAVAILABLE_KEY, None)
            if down is not None:
                self._refuse_unavailable(context, down)
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
        except Unavailable as down:
            self._refuse_unavailable(context, down)
        context.viewer = user
        context.auth_error = None
        if isinstance(context, SocketContext):
            context.token = token

    async def refresh_socket_viewer(self, context: GavelContext) -> None:
        """Before each operation on a socket (schema/socket_auth.py): read the socket's
        account again, through the path HTTP requests take, into `context.viewer`.

        Raises `SocketAuthRefused` (close 4403 for a banned account, 4401 for an expired
        token or an account that no longer exists; once refused, always refused) or
        `Unavailable`. An anonymous socket is left as it is."""
        chosen = context.request.scope.get(_CLOSE_KEY)
        if chosen is not None:
            raise SocketAuthRefused(*chosen)
        token = getattr(context, "token", None)
        if token is None:
            return
        try:
            context.viewer = await accounts.user_for_access_token(self.deps, token)
        except DomainError as err:
            banned = err.code == "ACCOUNT_BANNED"
            close_code = CLOSE_FORBIDDEN if banned else CLOSE_UNAUTHORIZED
            context.viewer = None
            context.auth_error = (err.code, err.message)
            context.request.scope[_CLOSE_KEY] = (close_code, _close_reason(err))
            raise SocketAuthRefused(close_code, _close_reason(err)) from None

    def _refuse(self, context: GavelContext, close_code: int, err: DomainError) -> NoReturn:
        context.viewer = None
        context.auth_error = (err.code, err.message)
        context.request.scope[_CLOSE_KEY] = (close_code, _close_reason(err))
        raise SocketRejected(close_code, err)

    def _refuse_unavailable(self, context: GavelContext, down: Unavailable) -> NoReturn:
        context.viewer = None
        context.auth_error = (down.code, down.message)
        refusal = SocketUnavailable(down)
        context.request.scope[_CLOSE_KEY] = (refusal.close_code, refusal.reason)
        raise refusal
