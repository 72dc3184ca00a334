"""A BIDS_VOIDED event written to PostgreSQL (the recompute of realtime/lua/recompute.lua).

The persister writes the event row and folds its state into the auction row (price,
leader, bid count, last sequence) like any event (realtime/event_records.py); this module
adds what is particular to it, and only when the event row was new, so writing the same
event twice changes nothing:

- the voided bids get `voided_at` (and `retracted_at` when the bidder retracted them);
- a retraction counts once on the bidder's record (`users.retraction_count`);
- notifications (storage/notification_writer.py): each bidder whose bids were voided
  (BIDS_VOIDED) or retracted (BIDS_RETRACTED), the new leader when the lead changed
  (LEADING_AGAIN), and the former leader who no longer leads (OUTBID), unless voided;
- the audit row (`void_bids` or `retract_bids`, by the event's actor) with the state
  before and after, in the same transaction as the rows it describes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence, Set
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.events import AnyEvent, BidsVoided, VoidReason
from storage.notification_writer import NewNotification, add_notifications
from storage.tables import Auction, AuditLog, Bid, User

_MESSAGES = {
    "BIDS_VOIDED": "An administrator voided your bids on an auction; it was recomputed.",
    "BIDS_RETRACTED": "Your bid retraction took effect; the auction was recomputed.",
    "LEADING_AGAIN": "You are the highest bidder again after bids were removed.",
    "OUTBID": "You have been outbid after bids were removed and the auction recomputed.",
}


async def record_voids(session: Any, auction_id: uuid.UUID, e: BidsVoided) -> None:
    """What a new BIDS_VOIDED event of `auction_id` changes beyond the event and auction
    rows, in `session`'s transaction (an sqlmodel AsyncSession)."""
    retracted = e.reason == VoidReason.RETRACTED.value
    values: dict[str, Any] = {"voided_at": e.at}
    if retracted:
        values["retracted_at"] = e.at
    voided_bidders: set[uuid.UUID] = set()
    if e.voided:
        rows = await session.exec(
            update(Bid)
            .where(col(Bid.auction_id) == auction_id, col(Bid.sequence).in_(e.voided))
            .values(**values)
            .returning(col(Bid.bidder_id))
        )
        voided_bidders = set(rows.scalars().all())
    if retracted and voided_bidders:
        await session.exec(
            update(User)
            .where(col(User.id).in_(voided_bidders))
            .values(retraction_count=col(User.retraction_count) + 1)
        )
    notes = [
        _note(bidder, "BIDS_RETRACTED" if retracted else "BIDS_VOIDED", auction_id, e)
        for bidder in sorted(voided_bidders)
    ]
    before = e.before.leader if e.before is not None else None
    if e.leader != before:
        if e.leader is not None:
            notes.append(_note(uuid.UUID(e.leader), "LEADING_AGAIN", auction_id, e))
        if before is not None and uuid.UUID(before) not in voided_bidders:
            notes.append(_note(uuid.UUID(before), "OUTBID", auction_id, e))
    await add_notifications(session, notes)
    session.add(await _audit(session, auction_id, e, sorted(voided_bidders)))


async def _audit(
    session: Any, auction_id: uuid.UUID, e: BidsVoided, bidders: list[uuid.UUID]
) -> AuditLog:
    query = select(Auction.currency).where(col(Auction.id) == auction_id)
    currency = (await session.exec(query)).one()
    retracted = e.reason == VoidReason.RETRACTED.value
    prior = e.before
    before = (
        {"price": prior.price, "leader_id": prior.leader, "bid_count": prior.bid_count}
        if prior is not None
        else None
    )
    return AuditLog(
        actor_id=None if e.actor is None else uuid.UUID(e.actor),
        action="retract_bids" if retracted else "void_bids",
        entity_type="auction",
        entity_id=str(auction_id),
        at=e.at,
        details={
            "before": before,
            "after": {"price": e.price, "leader_id": e.leader, "bid_count": e.bid_count},
            "reason": e.note or e.reason,
            "bidders": [str(b) for b in bidders],
            "voided": list(e.voided),
            "ignored": list(e.ignored),
            "sequence": e.sequence,
            "currency": currency,
        },
    )


async def record_voids_on(
    conn: Any,
    ongoing: Sequence[tuple[uuid.UUID, Sequence[AnyEvent]]],
    new: Set[tuple[uuid.UUID, int]],
) -> None:
    """`record_voids` for the bulk path's BIDS_VOIDED events whose rows were new (`new`:
    (auction, sequence)); it holds a connection, whose transaction stays the caller's (the
    session only joins it). Call it after the events' bids rows are written."""
    events = [
        (auction_id, e)
        for auction_id, batch in ongoing
        for e in batch
        if isinstance(e, BidsVoided) and (auction_id, e.sequence) in new
    ]
    if not events:
        return
    # Closing a session that joined an outer transaction leaves that transaction alone.
    async with AsyncSession(bind=conn) as session:
        for auction_id, e in events:
            await record_voids(session, auction_id, e)
        await session.flush()


def _note(user_id: uuid.UUID, kind: str, auction_id: uuid.UUID, e: BidsVoided) -> NewNotification:
    return NewNotification(
        user_id=user_id,
        kind=kind,
        message=_MESSAGES[kind],
        auction_id=auction_id,
        dedupe_key=f"{kind}:{auction_id}:{e.sequence}",
        created_at=e.at,
    )
