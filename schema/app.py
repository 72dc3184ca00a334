"""The strawberry ASGI app: authenticates each request and builds its context.

HTTP requests authenticate with their `Authorization: Bearer <token>` header (also
subscriptions over server-sent events: `Accept: text/event-stream`); WebSockets with
their `connection_init` payload (schema/socket_session.py, which also holds the socket
adapter and the close codes). Strawberry itself refuses any operation sent before the
`connection_init` was acknowledged (close 4401 "Unauthorized", on both protocols).
Refusals before any GraphQL ran are JSON GraphQL errors (schema/http_answers.py); a
placeBid/buyNow document the compiler knows skips execution (schema/compiled_bid.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from time import perf_counter
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
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
from schema.http_answers import http_refusal, read_body, replay, too_many_streams
from schema.live_delivery import LiveDelivery
from schema.request_errors import (
    OPERATION_NOT_SUPPORTED,
    REQUEST_REFUSALS,
    error_code,
)
from schema.socket_protocols import LegacyWSHandler, TransportWSHandler
from schema.socket_session import (
    UNAVAILABLE_KEY,
    GavelSocket,
    SocketAuthentication,
    SocketContext,
    bearer,
)
from services import accounts
from services.deps import Deps
from services.unavailable import Unavailable

# Operations one WebSocket may run at once, on either protocol (strawberry refuses one
# more with an `error` message "Subscription limit reached"; the socket stays open). An
# SSE stream carries one subscription, counted among its address's live connections.
SUBSCRIPTIONS_PER_CONNECTION = 100


class GavelGraphQL(SocketAuthentication, GraphQL[GavelContext, None]):
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
        await too_many_streams(self.live_connections.per_ip)(scope, receive, send)

    def _streamed(self, scope: Scope) -> bool:
        accept = ", ".join(
            value.decode("latin-1") for name, value in scope["headers"] if name == b"accept"
        )
        return self._get_stream_transport_from_headers({"accept": accept}) is not None

    async def _answer_unlimited(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.compiler is not None and scope["method"] == "POST":
            headers = dict(scope["headers"])
            if headers.get(b"content-type", b"").startswith(b"application/json"):
                body = await read_body(receive)
                if await self._compiled(headers, body, send, scope):
                    return
                receive = replay(body, receive)
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
                ctx.extra[UNAVAILABLE_KEY] = down  # refused at connection_init
            if isinstance(ctx, SocketContext) and ctx.viewer is not None:
                ctx.token = token
        return ctx
