"""What an auction subscription delivers: one change of an auction's public state."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.money import Money


@strawberry.type
class AuctionEvent:
    auction_id: strawberry.ID
    kind: str
    sequence: int
    current_price: Money | None
    bid_count: int
    ends_at: datetime
    leader_id: strawberry.ID | None
    at: datetime
