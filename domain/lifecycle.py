"""Who may change an auction's status: DRAFT → SCHEDULED → ACTIVE → ENDED | CANCELLED."""

from __future__ import annotations

from datetime import datetime

from domain.enums import AuctionStatus
from domain.errors import Forbidden, InvalidState


def check_editable(status: AuctionStatus, bid_count: int) -> None:
    if status not in (AuctionStatus.DRAFT, AuctionStatus.SCHEDULED):
        raise InvalidState(f"a {status.value} auction can no longer be edited")
    if bid_count:
        raise InvalidState("an auction with bids can no longer be edited")


def status_on_publish(
    status: AuctionStatus, starts_at: datetime | None, now: datetime
) -> AuctionStatus:
    """SCHEDULED for a future start, ACTIVE when the start is empty or already past."""
    if status is not AuctionStatus.DRAFT:
        raise InvalidState(f"only drafts can be published; this one is {status.value}")
    if starts_at is None or starts_at <= now:
        return AuctionStatus.ACTIVE
    return AuctionStatus.SCHEDULED


def check_cancellable(status: AuctionStatus, bid_count: int, *, by_admin: bool) -> None:
    if status in (AuctionStatus.ENDED, AuctionStatus.CANCELLED):
        raise InvalidState(f"a {status.value} auction cannot be cancelled")
    if bid_count and not by_admin:
        raise Forbidden("sellers can cancel only before the first bid; ask an admin")
