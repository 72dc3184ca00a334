"""Auction events on the bus: channel names and publishing (the public form of an event is
domain.events.public_event)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from domain.events import Event, public_event


def channel(auction_id: uuid.UUID | str) -> str:
    return f"auction:{auction_id}"


class Bus(Protocol):
    async def publish(self, channel: str, message: Any) -> None: ...


async def publish(
    bus: Bus | None,
    auction_id: uuid.UUID | str,
    events: Iterable[Event],
    *,
    sealed: bool = False,
) -> None:
    """Publish the public form of `events` (a `sealed` auction's hides who bid what) after
    the state is committed in Redis; subscribers resync on gaps."""
    if bus is None:
        return
    name, auction = channel(auction_id), str(auction_id)
    for event in events:
        await bus.publish(name, orjson.dumps(public_event(event, auction, sealed=sealed)).decode())
