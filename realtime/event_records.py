"""Auction events written to PostgreSQL: the event rows, bids, notifications and the
auction row's columns they change, and an ended auction's outcome.

Writes are idempotent (primary keys on (auction, sequence), deterministic bid ids), and
side effects such as notifications happen only when the event row was new, so writing
the same event twice changes nothing. The persister (realtime/persister.py) calls these.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from domain.enums import AuctionStatus, AuctionType
from domain.events import (
    AnyEvent,
    BidAccepted,
    BidsVoided,
    Cancelled,
    Ended,
    PriceStep,
    stored_event,
)
from domain.outcome import FinalState, decide
from realtime.recompute_records import record_voids, record_voids_on
from storage.tables import Auction, AuctionEvent, Bid, Notification

log = logging.getLogger("gavel.persister")
BID_NAMESPACE = uuid.UUID("6f1d3c52-8f0e-4c84-9a55-2a6f3f2b7d10")
AUCTIONS = Auction.__table__  # type: ignore[attr-defined]
AUCTION_EVENTS = AuctionEvent.__table__  # type: ignore[attr-defined]
BIDS = Bid.__table__  # type: ignore[attr-defined]
NOTIFICATIONS = Notification.__table__  # type: ignore[attr-defined]


def bid_id(auction_id: uuid.UUID, sequence: int) -> uuid.UUID:
    """Deterministic, so persisting the same event twice names the same bid."""
    return uuid.uuid5(BID_NAMESPACE, f"{auction_id}:{sequence}")


def _opt_id(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def _fold(auction: Any, events: list[AnyEvent]) -> dict[str, Any]:
    """The auction columns that in-flight events newer than the row set (an empty dict if
    there are none); `auction` has the row's id, type, current_price and ends_at."""
    state: dict[str, Any] = {}
    dutch = AuctionType(auction.type) is AuctionType.DUTCH
    for e in events:
        state["last_sequence"] = e.sequence
        state["bid_count"] = e.bid_count
        if not (dutch and isinstance(e, PriceStep)):
            state["current_price"] = e.price
        state["leader_id"] = _opt_id(e.leader)
        ends = e.ends_at
        if ends is not None:
            state["ends_at"] = ends
        state["updated_at"] = e.at
    return state


def _bid_row(auction_id: uuid.UUID, currency: str, e: BidAccepted) -> dict[str, Any]:
    """The bids row of a BID_ACCEPTED event (the stream's form: nothing hidden)."""
    assert e.bidder is not None and e.amount is not None
    return {
        "id": bid_id(auction_id, e.sequence),
        "auction_id": auction_id,
        "bidder_id": uuid.UUID(e.bidder),
        "sequence": e.sequence,
        "amount": e.amount,
        "max_amount": e.max_amount,
        "currency": currency,
        "placed_at": e.at,
        "idempotency_key": e.idempotency_key,
    }


def _voided(auction: Any) -> datetime | None:
    """A bid recorded after its auction was cancelled is void from the start (the cancel
    voided the bids recorded before it)."""
    if auction.status == AuctionStatus.CANCELLED.value:
        return auction.cancelled_at  # type: ignore[no-any-return]
    return None


def _outbid_row(auction_id: uuid.UUID, e: BidAccepted, outbid: str) -> dict[str, Any]:
    """The OUTBID notification of a BID_ACCEPTED event that displaced a leader."""
    return {
        "user_id": uuid.UUID(outbid),
        "kind": "OUTBID",
        "auction_id": auction_id,
        "message": "You have been outbid.",
        "created_at": e.at,
    }


async def record_ongoing(conn: Any, ongoing: list[tuple[uuid.UUID, list[AnyEvent]]]) -> None:
    """What `record` does for in-flight events, for many auctions at once (SQL
    statements on the unit of work's connection: no ORM objects to build)."""
    ids = sorted(a for a, _ in ongoing)
    # Locked in one order by every persister: no deadlock between two of them.
    facts = {
        row.id: row
        for row in (
            await conn.execute(
                select(
                    AUCTIONS.c.id,
                    AUCTIONS.c.type,
                    AUCTIONS.c.currency,
                    AUCTIONS.c.last_sequence,
                    AUCTIONS.c.current_price,
                    AUCTIONS.c.ends_at,
                    AUCTIONS.c.status,
                    AUCTIONS.c.cancelled_at,
                )
                .where(AUCTIONS.c.id.in_(ids))
                .order_by(AUCTIONS.c.id)
                .with_for_update()
            )
        ).all()
    }
    rows: list[dict[str, Any]] = []
    for auction_id, events in ongoing:
        if auction_id not in facts:
            log.error("events for unknown auction %s dropped", auction_id)
            continue
        rows.extend(
            {
                "auction_id": auction_id,
                "sequence": e.sequence,
                "kind": e.kind.value,
                "payload": stored_event(e),
                "at": e.at,
            }
            for e in events
        )
    if not rows:
        return
    new: set[tuple[uuid.UUID, int]] = set()
    for start in range(0, len(rows), 500):
        inserted = await conn.execute(
            insert(AUCTION_EVENTS)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing()
            .returning(AUCTION_EVENTS.c.auction_id, AUCTION_EVENTS.c.sequence)
        )
        new.update((r[0], r[1]) for r in inserted.all())
    bids, notes, updates = [], [], []
    for auction_id, events in ongoing:
        fact = facts.get(auction_id)
        if fact is None:
            continue
        fresh = [e for e in events if (auction_id, e.sequence) in new]
        for e in fresh:
            if isinstance(e, BidAccepted):
                bids.append({**_bid_row(auction_id, fact.currency, e), "voided_at": _voided(fact)})
                if e.outbid:
                    note = _outbid_row(auction_id, e, e.outbid)
                    notes.append({**note, "id": uuid.uuid4(), "read_at": None})
        state = _fold(fact, [e for e in fresh if e.sequence > fact.last_sequence])
        if state:
            # Columns the events left alone keep the row's value.
            row = {"current_price": fact.current_price, "ends_at": fact.ends_at, **state}
            updates.append({"b_id": fact.id, **{f"b_{k}": v for k, v in row.items()}})
    if bids:
        await conn.execute(insert(BIDS).values(bids).on_conflict_do_nothing())
    await record_voids_on(conn, ongoing, new)
    if notes:
        await conn.execute(insert(NOTIFICATIONS).values(notes))
    if updates:
        await conn.execute(
            sa_update(AUCTIONS)
            .where(AUCTIONS.c.id == bindparam("b_id"))
            .values(
                {
                    column: bindparam(f"b_{column}")
                    for column in (
                        "last_sequence",
                        "bid_count",
                        "current_price",
                        "leader_id",
                        "ends_at",
                        "updated_at",
                    )
                }
            ),
            updates,
        )


async def record(session: Any, auction: Auction, e: AnyEvent) -> bool:
    """Write one event of `auction` (locked by the caller) in the session's transaction;
    returns whether it is the auction's final event (ENDED, CANCELLED)."""
    inserted = await session.exec(
        insert(AuctionEvent)
        .values(
            auction_id=auction.id,
            sequence=e.sequence,
            kind=e.kind.value,
            payload=stored_event(e),
            at=e.at,
        )
        .on_conflict_do_nothing()
        .returning(col(AuctionEvent.sequence))
    )
    if inserted.first() is None:
        return e.final  # already applied earlier
    if isinstance(e, BidAccepted):
        bid = {**_bid_row(auction.id, auction.currency, e), "voided_at": _voided(auction)}
        await session.exec(insert(Bid).values(**bid).on_conflict_do_nothing())
        if e.outbid:
            session.add(Notification(**_outbid_row(auction.id, e, e.outbid)))
    if isinstance(e, BidsVoided):
        await record_voids(session, auction.id, e)
    if e.sequence > auction.last_sequence:
        for column, value in _fold(auction, [e]).items():
            setattr(auction, column, value)
    if isinstance(e, Ended):
        _end(session, auction, e)
        return True
    if isinstance(e, Cancelled) and auction.status != AuctionStatus.CANCELLED.value:
        auction.status = AuctionStatus.CANCELLED.value
        auction.cancelled_at = auction.cancelled_at or e.at
        return True
    return isinstance(e, Cancelled)


def _end(session: Any, auction: Auction, e: Ended) -> None:
    at = e.at
    final = FinalState(
        type=AuctionType(auction.type),
        starting_price=auction.starting_price,
        reserve_price=auction.reserve_price,
        price=e.price,
        leader=e.leader,
        sealed_bids=e.sealed_bids or (),
    )
    outcome = decide(final)
    auction.status = AuctionStatus.ENDED.value
    auction.outcome = outcome.result.value
    auction.winner_id = uuid.UUID(outcome.winner) if outcome.winner else None
    auction.final_price = outcome.price
    auction.ended_at = at
    if AuctionType(auction.type).sealed:
        auction.current_price = outcome.price
        auction.leader_id = auction.winner_id
    if outcome.winner:
        session.add(
            Notification(
                user_id=uuid.UUID(outcome.winner),
                kind="AUCTION_WON",
                auction_id=auction.id,
                created_at=at,
                message="You won the auction.",
            )
        )
    session.add(
        Notification(
            user_id=auction.seller_id,
            auction_id=auction.id,
            created_at=at,
            kind="AUCTION_SOLD" if outcome.winner else "AUCTION_UNSOLD",
            message="Your auction sold." if outcome.winner else "Your auction ended unsold.",
        )
    )
