"""Subscribers of one document share each auction event's execution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.shared_events import SharedEventExecutionContext, intern_event
from schema.types import AuctionEvent


def _event(sequence: int) -> AuctionEvent:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return AuctionEvent(
        auction_id=strawberry.ID("a1"),
        kind="BID_ACCEPTED",
        sequence=sequence,
        current_price=None,
        bid_count=sequence,
        ends_at=at,
        leader_id=None,
        at=at,
    )


def test_interned_events_are_one_object_per_auction_and_sequence():
    first = intern_event(("a1", 1, "USD"), lambda: _event(1))
    again = intern_event(("a1", 1, "USD"), lambda: _event(99))
    assert first is again and first.sequence == 1
    assert intern_event(("a1", 2, "USD"), lambda: _event(2)) is not first


def test_one_execution_serves_every_subscriber_of_a_document(monkeypatch):
    ctx: Any = SharedEventExecutionContext.__new__(SharedEventExecutionContext)
    shared = intern_event(("a2", 1, "USD"), lambda: _event(1))
    executed: list[object] = []

    def counted(self: Any, serially: bool | None = None) -> object:
        executed.append(self.root_value)
        return {"data": self.root_value.sequence}

    # Stand in for graphql-core's execution to count how often it runs.
    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", counted)
    results = []
    for _ in range(3):  # three subscribers, same operation and variables
        ctx.root_value, ctx.operation, ctx.variable_values = shared, "op", {"id": "a2"}
        results.append(ctx.execute_operation(False))
    ctx.variable_values = {"id": "other"}  # other variables: a run of their own
    results.append(ctx.execute_operation(False))
    ctx.root_value, ctx.variable_values = _event(1), {"id": "a2"}  # not interned: not shared
    results.append(ctx.execute_operation(False))
    assert len(executed) == 3
    assert results[0] is results[1] is results[2]
    assert results[3] is not results[0]
