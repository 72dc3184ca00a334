"""The WebSocket protocol handlers of the GraphQL app (graphql-transport-ws and the legacy
graphql-ws), and which socket and operation a subscription serves.

The handlers tell the subscription resolver which socket and operation it serves (a
context variable, copied into the operation's task; `live_target`), so that live events
go straight to the socket (schema/live_delivery.py). They also answer messages that carry
no usable operation without crashing the connection (malformed documents are refused by
schema/request_errors.py, on every transport alike), report an operation's unexpected
failure with its error id, and apply the per-socket limits (schema/subscribe_limit.py)
and the socket's re-authentication (schema/socket_auth.py) before each operation.
"""

from __future__ import annotations

from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, OperationType
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage
from structlog.contextvars import bound_contextvars

from adapters.request_id import valid_request_id
from schema import socket_auth, subscribe_limit
from schema.errors import log_unexpected, unexpected_message
from schema.request_errors import BAD_REQUEST
from schema.shared_events import SharedEventExecutionContext


@dataclass(frozen=True, slots=True)
class SocketTarget:
    """Where one subscription operation's messages go."""

    ws: WebSocket
    prefix: str  # the message up to its payload: '{"id":<op id>,"type":"next","payload":'


def _target(ws: WebSocket, operation_id: str, kind: str) -> SocketTarget:
    op = orjson.dumps(operation_id).decode()
    return SocketTarget(ws, f'{{"id":{op},"type":"{kind}","payload":')


_TARGET: ContextVar[SocketTarget | None] = ContextVar("gavel_socket_target", default=None)
_RUNNING: ContextVar[Operation[Any, Any] | None] = ContextVar("gavel_ws_operation", default=None)
_EXECUTOR: ContextVar[SharedEventExecutionContext | None] = ContextVar(
    "gavel_subscription_executor", default=None
)


def live_target() -> tuple[SocketTarget, SharedEventExecutionContext] | None:
    """The socket and executor of the subscription being resolved, if it runs on a socket."""
    target, executor = _TARGET.get(), _EXECUTOR.get()
    return (target, executor) if target is not None and executor is not None else None


def _operation_message(message: object, kind: str) -> dict[str, Any] | None:
    """A `subscribe`/`start` message's operation, with `payload.query` always present (a
    missing query is the client's BAD_REQUEST, answered by GavelSchema like on HTTP);
    None for a message of another type. Raises ValueError when the message cannot carry
    an operation at all (no string id, a payload that is not an object)."""
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    if message.get("type") != kind:
        return None
    payload = message.get("payload")
    if not isinstance(message.get("id"), str) or not isinstance(payload, dict):
        raise ValueError(f"a {kind} message needs a string id and an object payload")
    return {**message, "payload": {"query": None, **payload}}


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_message(self, message: Any) -> None:
        # strawberry closes the socket only for a missing key; a message of another shape
        # (not an object, a payload that is a string) would crash the connection.
        try:
            message = _operation_message(message, "subscribe") or message
        except ValueError as exc:
            await self.handle_invalid_message(str(exc))
            return
        if (
            isinstance(message, dict)
            and message.get("type") == "connection_init"
            and message.get("payload", {}) is None
        ):
            # The protocol allows a null payload; strawberry would close the socket (4400).
            message = {**message, "payload": {}}
        await super().handle_message(message)

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        # Remembered for `handle_task_exception`, which strawberry calls without it.
        _RUNNING.set(operation)
        await super().run_operation(operation)

    async def handle_task_exception(self, error: Exception) -> None:
        # strawberry logs an operation's unexpected failure (without the id the client is
        # told), then sends a bare `complete`: the client would take a failure for the end
        # of its results. It is logged once, with its id, and an `error` message for the
        # operation comes first (strawberry then sends nothing more for it).
        error_id = log_unexpected(error, "(graphql-transport-ws)")
        operation = _RUNNING.get()
        if operation is None:
            return
        errors = [
            GraphQLError(
                unexpected_message(error_id), extensions={"code": "INTERNAL", "errorId": error_id}
            )
        ]
        with suppress(Exception):
            await operation.send_initial_errors(errors)

    @staticmethod
    def _get_pre_execution_close_reason(error: Any) -> str | None:
        # Overrides a strawberry internal (0.341), which closes the whole socket (4400) for
        # a syntax error or an unknown operation: the protocol's `error` message for that
        # operation id answers it, as for any other invalid document, and the socket
        # stays open for the client's next operation.
        return None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if await subscribe_limit.refused(self, message["id"], legacy=False):
            return
        if await socket_auth.refused(self, message["id"], legacy=False):
            return
        # The operation's task is created inside and copies this context.
        token = _TARGET.set(_target(self.websocket.ws, message["id"], "next"))  # type: ignore[attr-defined]
        try:
            with bound_contextvars(operation_id=_loggable(message["id"])):
                await super().handle_subscribe(message)
        finally:
            _TARGET.reset(token)


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    async def handle_message(self, message: Any) -> None:
        # graphql-ws has no close code for a bad message: strawberry ignores what it does
        # not understand (so do we), but a start message without an id or payload object
        # would crash the connection.
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return
        if message["type"] == "stop" and not isinstance(message.get("id"), str):
            return
        try:
            message = _operation_message(message, "start") or message
        except ValueError as exc:
            if isinstance(message.get("id"), str):
                await self.send_message(_legacy_error(message["id"], str(exc), BAD_REQUEST))
            return
        await super().handle_message(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        # strawberry lets an unexpected exception end the operation's task silently: the
        # client would wait forever. It gets an error message, like on the other protocol.
        try:
            await super().handle_async_results(operation_id, query, operation_name, variables)
        except (WebSocketDisconnected, WebSocketDisconnect):
            return  # the socket closed (a client leaving, a shutdown): nobody to tell
        except Exception as exc:
            message = unexpected_message(log_unexpected(exc, "(graphql-ws)"))
            with suppress(Exception):
                await self.send_message(_legacy_error(operation_id, message, "INTERNAL"))

    async def handle_start(self, message: StartMessage) -> None:
        if await subscribe_limit.refused(self, message["id"], legacy=True):
            return
        if await socket_auth.refused(self, message["id"], legacy=True):
            return
        token = _TARGET.set(_target(self.websocket.ws, message["id"], "data"))  # type: ignore[attr-defined]
        try:
            with bound_contextvars(operation_id=_loggable(message["id"])):
                await super().handle_start(message)
        finally:
            _TARGET.reset(token)


def _loggable(operation_id: str) -> str:
    # The client chose the id: one that could break a log line is logged as its repr.
    return operation_id if valid_request_id(operation_id) else repr(operation_id[:64])


def _legacy_error(operation_id: str, message: str, code: str) -> Any:
    return {
        "type": "error",
        "id": operation_id,
        "payload": {"message": message, "extensions": {"code": code}},
    }


class CapturingExecutionContext(SharedEventExecutionContext):
    """Leaves the executor of a subscription in a context variable when its root field
    is resolved, so the resolver can hand it to a `DocumentGroup`."""

    def build_resolve_info(
        self, field_def: Any, field_nodes: Any, parent_type: Any, path: Any
    ) -> Any:
        if path.prev is None and self.operation.operation is OperationType.SUBSCRIPTION:
            _EXECUTOR.set(self)
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)
