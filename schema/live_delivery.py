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

The protocol handlers (schema/socket_protocols.py) tell the subscription resolver which
socket and operation it serves; without them (e.g. a subscription over HTTP) the
resolver falls back to the queued path.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine, Generator
from typing import Any

import orjson
from graphql import ExecutionResult

from domain.events import PublicEvent
from realtime.feed import AuctionFeeds, FeedMember
from realtime.stream import EventSource
from schema.event_types import AuctionEvent
from schema.shared_events import (
    SharedEventExecutionContext,
    shared_payload_text,
    variables_key,
)
from schema.socket_protocols import CapturingExecutionContext, SocketTarget

__all__ = [
    "SEND_BACKLOG",
    "CapturingExecutionContext",
    "DocumentGroup",
    "DocumentGroups",
    "LiveDelivery",
    "LiveDeliveryFailed",
    "SocketMember",
    "SocketTarget",
]

log = logging.getLogger("gavel.live")

SEND_BACKLOG = 256  # messages a socket may have waiting behind a blocked write


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
