"""Auction events on the bus: channel names and the public form of an event."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import orjson

# Fields of a stream event that never leave the server: the proxy ceiling is the
# bidder's secret, the idempotency key is theirs too, the reserve is the seller's.
PRIVATE_FIELDS = ("max", "idem", "sealed", "replaces", "reserve")
# On sealed auctions who bid what stays secret until the end, on the bus too.
SEALED_FIELDS = ("amount", "bidder", "outbid")


def channel(auction_id: uuid.UUID | str) -> str:
    return f"auction:{auction_id}"


def public(
    event: dict[str, Any], auction_id: uuid.UUID | str, *, sealed: bool = False
) -> dict[str, Any]:
    hidden = PRIVATE_FIELDS + SEALED_FIELDS if sealed else PRIVATE_FIELDS
    out = {k: v for k, v in event.items() if k not in hidden}
    out["auction"] = str(auction_id)
    return out


class Bus(Protocol):
    async def publish(self, channel: str, message: Any) -> None: ...


async def publish(
    bus: Bus | None,
    auction_id: uuid.UUID | str,
    events: list[dict[str, Any]],
    *,
    sealed: bool = False,
) -> None:
    """Publish after the state is committed in Redis; subscribers resync on gaps."""
    if bus is None:
        return
    for event in events:
        await bus.publish(
            channel(auction_id), orjson.dumps(public(event, auction_id, sealed=sealed)).decode()
        )
