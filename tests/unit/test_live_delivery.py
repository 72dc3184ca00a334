"""Live delivery to sockets: one execution and encoding per document and event, writes
started eagerly, a blocked socket's events queued in order, a hopeless one cut off.

The socket here is a stand-in whose writes block while a gate is closed; the real
socket path is covered end to end in tests/e2e/test_subscriptions.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from graphql import parse

from domain.events import PublicEvent
from realtime.stream import SubscriberTooSlow
from schema.build import build_schema
from schema.live_delivery import (
    SEND_BACKLOG,
    CapturingExecutionContext,
    DocumentGroup,
    DocumentGroups,
    SocketMember,
    SocketTarget,
)
from schema.types import AuctionEvent
from tests.unit.test_shared_events import _event

DOCUMENT = parse(
    "subscription($id: ID!) { auctionUpdated(auctionId: $id) { sequence kind __typename } }"
)


def executor(auction_id: str = "a1") -> CapturingExecutionContext:
    built = CapturingExecutionContext.build(
        build_schema()._schema, DOCUMENT, raw_variable_values={"id": auction_id}
    )
    assert isinstance(built, CapturingExecutionContext), built
    return built


class Socket:
    """Records texts; a write waits while `gate` is cleared, like a full send buffer."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.broken = False

    async def send_text(self, text: str) -> None:
        if self.broken:
            raise OSError("connection reset")
        if not self.gate.is_set():
            await self.gate.wait()
        self.sent.append(text)


class CountingGroup(DocumentGroup):
    def __init__(self) -> None:
        super().__init__(executor())
        self.executions = 0

    def _execute(self, event: AuctionEvent) -> str:
        self.executions += 1
        return super()._execute(event)


def public(sequence: int) -> PublicEvent:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return PublicEvent(
        auction_id="a1",
        sequence=sequence,
        kind="BID_ACCEPTED",
        price=100 * sequence,
        bid_count=sequence,
        ends_at=at,
        leader_id=None,
        status="ACTIVE",
        at=at,
    )


_interned: dict[int, AuctionEvent] = {}


def to_event(event: PublicEvent) -> AuctionEvent:
    return _interned.setdefault(event.sequence, _event(event.sequence))


def member(socket: Socket, group: DocumentGroup, op: str = "1") -> SocketMember:
    target = SocketTarget(socket, f'{{"id":{json.dumps(op)},"type":"next","payload":')  # type: ignore[arg-type]
    return SocketMember(target, group, to_event)


def sequences(socket: Socket) -> list[int]:
    return [json.loads(t)["payload"]["data"]["auctionUpdated"]["sequence"] for t in socket.sent]


async def test_members_of_one_document_share_one_execution_and_keep_their_ids():
    group = CountingGroup()
    sockets = [Socket() for _ in range(3)]
    members = [member(s, group, op) for s, op in zip(sockets, ["a", 'q"uote', "c"], strict=True)]
    for seq in (1, 2):
        for m in members:
            m.deliver(public(seq))
    assert group.executions == 2  # once per event, not per member
    for s, op in zip(sockets, ["a", 'q"uote', "c"], strict=True):
        messages = [json.loads(t) for t in s.sent]  # written without waiting
        assert [m["id"] for m in messages] == [op, op]
        assert [m["type"] for m in messages] == ["next", "next"]
        assert messages[0]["payload"] == {
            "data": {
                "auctionUpdated": {
                    "sequence": 1,
                    "kind": "BID_ACCEPTED",
                    "__typename": "AuctionEvent",
                }
            }
        }
    assert all(m.seen == 2 and m.writing is None for m in members)


async def test_a_blocked_socket_gets_its_events_later_in_order():
    socket = Socket()
    m = member(socket, DocumentGroup(executor()))
    socket.gate.clear()
    for seq in (1, 2, 3):
        m.deliver(public(seq))
    assert socket.sent == [] and m.writing is not None and len(m.backlog) == 2
    assert m.seen == 0  # nothing surely reached the client yet
    socket.gate.set()
    await asyncio.wait_for(m.writing, 5)
    assert sequences(socket) == [1, 2, 3] and m.seen == 3 and m.writing is None
    m.deliver(public(4))  # the socket is free again: written at once
    assert sequences(socket) == [1, 2, 3, 4]
    assert not m.done.done()


async def test_a_socket_too_far_behind_is_cut_off_with_its_resume_point():
    socket = Socket()
    m = member(socket, DocumentGroup(executor()))
    m.deliver(public(1))
    socket.gate.clear()
    for seq in range(2, SEND_BACKLOG + 4):
        m.deliver(public(seq))
    with pytest.raises(SubscriberTooSlow) as cut_off:
        await asyncio.wait_for(m.done, 5)
    assert "sinceSequence: 1" in cut_off.value.message
    socket.gate.set()
    await asyncio.sleep(0.05)
    assert sequences(socket) == [1, 2]  # the write in progress finishes; the queue is dropped
    m.deliver(public(SEND_BACKLOG + 9))  # still a member until its resolver leaves: ignored
    assert sequences(socket) == [1, 2]


async def test_a_broken_socket_ends_its_member_quietly():
    socket = Socket()
    m = member(socket, DocumentGroup(executor()))
    socket.broken = True
    m.deliver(public(1))
    assert m.done.done() and m.done.exception() is None


async def test_execution_errors_end_the_member_with_the_error():
    class Failing(DocumentGroup):
        def _execute(self, event: AuctionEvent) -> str:
            raise RuntimeError("boom")

    m = member(Socket(), Failing(executor()))
    m.deliver(public(1))
    with pytest.raises(RuntimeError, match="boom"):
        await m.done


def test_groups_are_per_operation_and_variables():
    groups = DocumentGroups()
    one = executor("a1")
    key, group = groups.join(one)
    same_key, same = groups.join(one.build_per_event_executor(None))  # type: ignore[arg-type]
    other_key, other = groups.join(executor("a2"))
    assert same is group and same_key == key and other is not group
    groups.leave(key)
    assert groups.groups[key][1] == 1
    groups.leave(same_key)
    groups.leave(other_key)
    assert groups.groups == {}
