"""Live subscription events written straight to each socket, encoded once per document.

Strawberry runs every subscription as its own pipeline: each event passes, per
subscriber, through an async generator chain, graphql-core's per-event execution,
strawberry's extension hooks, JSON encoding and the protocol handler. With thousands of
subscribers of one auction that per-subscriber path was most of the fan-out cost
(docs/performance.md). Here, once a subscription has replayed what it missed (through
strawberry, as usual), it joins the auction's feed (`realtime.feed`) as a `SocketMember`:

- members with the same operation and variables share a `DocumentGroup`, which executes
  each event once (with the first member's graphql-core executor) and encodes its
  payload once;
- each member splices that text into its own protocol message (its operation id; `next`
  on graphql-transport-ws, `data` on graphql-ws) and writes it to its socket.

A socket write normally completes without suspending (the bytes go to the transport's
buffer), so it is started eagerly, inside the feed's delivery loop; only a write that
must wait for a full buffer to drain continues in a task of its own, and later events
for that socket queue behind it, up to `SEND_BACKLOG`: a client that far behind is cut
off (`SubscriberTooSlow`, resume with `sinceSequence`).

The handler classes below tell the subscription resolver which socket and operation it
serves (a context variable, copied into the operation's task); without them (e.g. a
subscription over HTTP) the resolver falls back to the queued path. They also answer
messages that carry no usable operation without crashing the connection (malformed
documents are refused by schema/request_errors.py, on every transport alike).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine, Generator
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLError, OperationType
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
from domain.events import PublicEvent
from realtime.feed import AuctionFeeds, FeedMember
from realtime.stream import EventSource
from schema import socket_auth, subscribe_limit
from schema.errors import log_unexpected, unexpected_message
from schema.request_errors import BAD_REQUEST
from schema.shared_events import (
    SharedEventExecutionContext,
    shared_payload_text,
    variables_key,
)
from schema.types import AuctionEvent

log = logging.getLogger("gavel.live")

SEND_BACKLOG = 256  # messages a socket may have waiting behind a blocked write


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


class LiveDeliveryFailed(Exception):
    """Executing an event for live delivery gave errors; the subscription reports them."""


class DocumentGroup:
    """Subscribers of one auction with the same operation and variables: each event is
    executed and encoded once for all of them."""

    def __init__(self, executor: SharedEventExecutionContext) -> None:
        self.executor = executor
        self.sequence = -1
        self.text: str | None = None
        self.error: BaseException | None = None

    def payload(self, event: AuctionEvent) -> str:
        if event.sequence != self.sequence:
            self.sequence, self.text, self.error = event.sequence, None, None
            try:
                self.text = self._execute(event)
            except Exception as err:
                self.error = err
        if self.error is not None:
            raise self.error
        assert self.text is not None
        return self.text

    def _execute(self, event: AuctionEvent) -> str:
        result = self.executor.build_per_event_executor(event).execute_operation(False)
        if not isinstance(result, ExecutionResult):
            if asyncio.iscoroutine(result):
                result.close()
            raise LiveDeliveryFailed("this subscription's fields cannot be delivered live")
        if result.errors:
            raise LiveDeliveryFailed(result.errors[0].message) from result.errors[0]
        payload = {"data": result.data}
        # An interned event's result was encoded when it was cached (shared_events.py).
        return shared_payload_text(payload) or orjson.dumps(payload).decode()


class DocumentGroups:
    """The groups of one process, by (operation, variables); a group lives while it has
    members."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int, bytes], tuple[DocumentGroup, int]] = {}

    def join(
        self, executor: SharedEventExecutionContext
    ) -> tuple[tuple[int, bytes], DocumentGroup]:
        # The group keeps its executor, and the executor its operation: the id stays unique.
        key = (id(executor.operation), variables_key(executor.variable_values))
        group, members = self.groups.get(key) or (DocumentGroup(executor), 0)
        self.groups[key] = (group, members + 1)
        return key, group

    def leave(self, key: tuple[int, bytes]) -> None:
        group, members = self.groups[key]
        if members <= 1:
            del self.groups[key]
        else:
            self.groups[key] = (group, members - 1)


class LiveDelivery:
    """The process's auction feeds and document groups (one per app, in the context)."""

    def __init__(self, source: EventSource) -> None:
        self.feeds = AuctionFeeds(source)
        self.groups = DocumentGroups()

    def close(self) -> None:
        """Shutdown: subscriptions off a WebSocket (server-sent events) end with
        SHUTTING_DOWN; WebSockets are closed by the server (uvicorn: 1012, service restart),
        which ends theirs (`SocketMember.shut_down`)."""
        self.feeds.close()


class SocketMember(FeedMember):
    """One subscription on one socket, fed by its auction's feed."""

    def __init__(self, target: SocketTarget, group: DocumentGroup, to_event: Any) -> None:
        super().__init__()
        self.target = target
        self.group = group
        self.to_event = to_event  # PublicEvent -> the interned AuctionEvent
        self.writing: asyncio.Task[None] | None = None
        self.backlog: deque[tuple[int, str]] = deque()

    def deliver(self, event: PublicEvent) -> None:
        if self.done.done():
            return  # ended (cut off, socket gone); it leaves the feed when its resolver does
        try:
            text = self.group.payload(self.to_event(event))
        except Exception as err:
            self.end(err)
            return
        message = (event.sequence, f"{self.target.prefix}{text}}}")
        if self.writing is not None:
            if len(self.backlog) >= SEND_BACKLOG:
                self.cut_off()
                return
            self.backlog.append(message)
            return
        self._write(message)

    def _write(self, message: tuple[int, str]) -> None:
        coro = self.target.ws.send_text(message[1])
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            self.seen = message[0]
            return
        except Exception:
            self.end()  # the socket is gone; strawberry ends the operation with it
            return
        self.writing = asyncio.ensure_future(self._finish(coro, waiting_on, message[0]))

    async def _finish(self, coro: Coroutine[Any, Any, None], waiting_on: Any, seq: int) -> None:
        try:
            await _Resumed(coro, waiting_on)
            self.seen = seq
            while self.backlog and not self.done.done():
                seq, text = self.backlog.popleft()
                await self.target.ws.send_text(text)
                self.seen = seq
        except Exception:
            self.end()
        finally:
            self.writing = None

    def end(self, error: BaseException | None = None) -> None:
        super().end(error)
        self.backlog.clear()

    def shut_down(self) -> None:
        # Left to the socket's close (1012): a client reconnects and resubscribes after
        # it, whereas an `error` or `complete` message first would end its subscription.
        pass


class _Resumed:
    """Awaits a coroutine that already ran up to its first suspension (`waiting_on`, what
    it yielded): the task awaiting this takes over from there, as if it had started it."""

    __slots__ = ("coro", "waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        coro, yielded = self.coro, self.waiting_on
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task, e.g. a cancellation
                try:
                    yielded = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration:
                    return
