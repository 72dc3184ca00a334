"""Loads what the fraud rules read (domain/fraud/facts.py, `BidderCase`) for a set of
bidders, in a handful of set-based queries on the scorer's unit of work."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.fraud.assess import BidderCase, Sightings
from domain.fraud.facts import AuctionFact, BidFact, Market
from domain.fraud.flags import COMBINED_RULE
from domain.fraud.rules import FINGERPRINT_SPRAYING, FraudPolicy
from storage.fraud_tables import FraudSighting
from storage.tables import Auction, AuditLog, Bid, FraudFlag, User

AUCTIONS = Auction.__table__  # type: ignore[attr-defined]
BIDS = Bid.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
SIGHTINGS = FraudSighting.__table__  # type: ignore[attr-defined]
AUDIT = AuditLog.__table__  # type: ignore[attr-defined]
FLAGS = FraudFlag.__table__  # type: ignore[attr-defined]
# The audit action of a bidder retracting their own bids (services/bid_voiding.py); the
# count per bidder is all the retraction rule needs.
RETRACTION_ACTION = "retract_bids"


@dataclass(frozen=True, slots=True)
class Account:
    held: bool
    # The highest combined score an admin dismissed in the window (None: none).
    dismissed_score: int | None


@dataclass(frozen=True, slots=True)
class Facts:
    cases: list[BidderCase]
    accounts: dict[uuid.UUID, Account]
    market: Market


async def load_facts(
    conn: AsyncConnection, bidders: set[uuid.UUID], since: datetime, policy: FraudPolicy
) -> Facts:
    """The cases of `bidders` from `since` on (live bids only), the market's averages
    over the auctions open or ended since then, and each account's hold state."""
    execute = conn.execute
    ids = sorted(bidders)
    users = (
        await execute(
            select(USERS.c.id, USERS.c.created_at, USERS.c.fraud_hold).where(USERS.c.id.in_(ids))
        )
    ).all()
    auction_ids = [
        row.auction_id
        for row in (
            await execute(
                select(BIDS.c.auction_id)
                .where(
                    BIDS.c.bidder_id.in_(ids),
                    BIDS.c.placed_at >= since,
                    BIDS.c.retracted_at.is_(None),
                )
                .distinct()
            )
        ).all()
    ]
    auction_rows = (await execute(select(AUCTIONS).where(AUCTIONS.c.id.in_(auction_ids)))).all()
    bids: dict[uuid.UUID, list[BidFact]] = defaultdict(list)
    for row in (
        await execute(
            select(
                BIDS.c.auction_id,
                BIDS.c.bidder_id,
                BIDS.c.amount,
                BIDS.c.max_amount,
                BIDS.c.placed_at,
                BIDS.c.sequence,
            )
            .where(BIDS.c.auction_id.in_(auction_ids), BIDS.c.retracted_at.is_(None))
            .order_by(BIDS.c.auction_id, BIDS.c.sequence)
        )
    ).all():
        # A proxy maximum is what the bidder committed to: it counts as the bid's value.
        value = max(row.amount, row.max_amount or 0)
        bids[row.auction_id].append(BidFact(row.bidder_id, value, row.placed_at, row.sequence))
    auctions = {
        row.id: AuctionFact(
            id=row.id,
            seller_id=row.seller_id,
            starting_price=row.starting_price,
            opened_at=row.activated_at or row.starts_at or row.published_at or row.created_at,
            ends_at=row.ends_at,
            ended=row.status == "ENDED",
            winner_id=row.winner_id if row.status == "ENDED" else row.leader_id,
            bids=tuple(bids[row.id]),
        )
        for row in auction_rows
    }
    sellers = {a.seller_id for a in auctions.values()}
    sightings = await _sightings(conn, bidders | sellers, since, policy)
    retractions = {
        row.actor_id: row.n
        for row in (
            await execute(
                select(AUDIT.c.actor_id, func.count().label("n"))
                .where(
                    AUDIT.c.action == RETRACTION_ACTION,
                    AUDIT.c.actor_id.in_(ids),
                    AUDIT.c.at >= since,
                )
                .group_by(AUDIT.c.actor_id)
            )
        ).all()
    }
    dismissed = {
        row.user_id: row.score
        for row in (
            await execute(
                select(FLAGS.c.user_id, func.max(FLAGS.c.score).label("score"))
                .where(
                    FLAGS.c.user_id.in_(ids),
                    FLAGS.c.rule == COMBINED_RULE,
                    FLAGS.c.status == "DISMISSED",
                    FLAGS.c.resolved_at >= since,
                )
                .group_by(FLAGS.c.user_id)
            )
        ).all()
    }
    market = (
        await execute(
            select(
                func.avg(AUCTIONS.c.bid_count).label("bids"),
                func.avg(AUCTIONS.c.starting_price).label("start"),
            ).where(
                or_(
                    AUCTIONS.c.status == "ACTIVE",
                    and_(AUCTIONS.c.status == "ENDED", AUCTIONS.c.ended_at >= since),
                )
            )
        )
    ).one()
    joined: dict[uuid.UUID, list[AuctionFact]] = defaultdict(list)
    for auction in auctions.values():
        for bidder in auction.bidders() & bidders:
            joined[bidder].append(auction)
    cases = [
        BidderCase(
            bidder_id=row.id,
            created_at=row.created_at,
            auctions=sorted(joined[row.id], key=lambda a: a.opened_at),
            sightings=frozenset(sightings[row.id]),
            seller_sightings={
                a.seller_id: Sightings(sightings[a.seller_id]) for a in joined[row.id]
            },
            retractions=retractions.get(row.id, 0),
        )
        for row in users
    ]
    return Facts(
        cases=cases,
        accounts={
            row.id: Account(held=row.fraud_hold, dismissed_score=dismissed.get(row.id))
            for row in users
        },
        market=Market(
            average_bids=float(market.bids or 0.0),
            average_starting_price=float(market.start or 0.0),
        ),
    )


async def _sightings(
    conn: AsyncConnection, users: set[uuid.UUID], since: datetime, policy: FraudPolicy
) -> dict[uuid.UUID, set[tuple[str, str]]]:
    """The users' sightings in the window that can link two accounts: a value seen on
    more than `shared_value_accounts` accounts (a proxy's or carrier's address, a
    common default fingerprint) links nobody, and the fingerprints of an account
    flagged `fingerprint_spraying` are its own inventions."""
    found: dict[uuid.UUID, set[tuple[str, str]]] = defaultdict(set)
    rows = (
        await conn.execute(
            select(SIGHTINGS.c.user_id, SIGHTINGS.c.kind, SIGHTINGS.c.value_hash).where(
                SIGHTINGS.c.user_id.in_(sorted(users)), SIGHTINGS.c.last_seen_at >= since
            )
        )
    ).all()
    if not rows:
        return found
    values = sorted({(row.kind, row.value_hash) for row in rows})
    common = {
        (row.kind, row.value_hash)
        for row in (
            await conn.execute(
                select(SIGHTINGS.c.kind, SIGHTINGS.c.value_hash)
                .where(
                    tuple_(SIGHTINGS.c.kind, SIGHTINGS.c.value_hash).in_(values),
                    SIGHTINGS.c.last_seen_at >= since,
                )
                .group_by(SIGHTINGS.c.kind, SIGHTINGS.c.value_hash)
                .having(func.count() > policy.shared_value_accounts)
            )
        ).all()
    }
    sprayers = set(
        (
            await conn.execute(
                select(FLAGS.c.user_id)
                .where(
                    FLAGS.c.user_id.in_(sorted(users)),
                    FLAGS.c.rule == FINGERPRINT_SPRAYING,
                    FLAGS.c.created_at >= since,
                )
                .distinct()
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        value = (row.kind, row.value_hash)
        if value in common or (row.kind == "device" and row.user_id in sprayers):
            continue
        found[row.user_id].add(value)
    return found
