"""The fraud scorer: scores bidders from newly persisted bids, off the bid path.

Every app process runs `FraudScorer.run`, a pass every `interval` seconds (settings:
GAVEL_FRAUD_POLL_SECONDS). A pass:

1. makes sure every ACTIVE auction, and every one ended within the look-back window,
   has a cursor row (`fraud_cursors`, last sequence read), and drops those of auctions
   closed before the window (its own short transaction);
2. locks up to `batch` cursors behind their auction's `last_sequence` with
   `FOR UPDATE SKIP LOCKED`, so several processes share the work and never score the
   same new bids twice at once (the auctions rows are not locked: the persister keeps
   writing bids meanwhile);
3. scores every bidder with a bid in the new sequences, and every bidder of an auction
   that has ended (its features are final then), on their whole recent activity
   (domain/fraud/assess.py);
4. puts accounts whose total reaches the hold threshold on FRAUD_HOLD through
   `services.moderation.set_fraud_hold` (its own transaction, a no-op when already
   held), unless an admin dismissed a combined score at least as high;
5. upserts one OPEN flag per (user, rule, auction or none) for each signal at the flag
   threshold, and one `combined_score` flag per held account; opening that flag writes
   the hold's audit row (actor None, the signals in `details`); moves the cursors; all
   in one transaction.

A crash before 5 commits leaves the cursors where they were: the next pass scores the
same bids again, the hold is already in place, and the flags are inserted or updated
in place (the partial unique index `uq_fraud_flags_open`), never duplicated; the audit
row comes with the `combined_score` flag's insertion, so exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.fraud.assess import Assessment, assess
from domain.fraud.flags import COMBINED_RULE, flags_of
from domain.fraud.rules import FraudPolicy
from domain.fraud.signals import Signal, strongest_per_rule
from realtime.background import StopSignal, cancelling
from services.deps import Deps
from services.fraud.facts import Account, load_facts
from services.moderation import set_fraud_hold, sweep_barred_bids
from storage.fraud_tables import FraudCursor
from storage.tables import Auction, AuditLog, Bid, FraudFlag

log = logging.getLogger("gavel.fraud")
CURSORS = FraudCursor.__table__  # type: ignore[attr-defined]
AUCTIONS = Auction.__table__  # type: ignore[attr-defined]
BIDS = Bid.__table__  # type: ignore[attr-defined]
FLAGS = FraudFlag.__table__  # type: ignore[attr-defined]
AUDIT = AuditLog.__table__  # type: ignore[attr-defined]

_NEW_CURSORS = text(
    """
    INSERT INTO fraud_cursors (auction_id, last_sequence, scored_at)
    SELECT a.id, 0, :now FROM auctions a
    WHERE a.last_sequence > 0
      AND (a.status = 'ACTIVE' OR (a.status = 'ENDED' AND a.ended_at >= :since))
      AND NOT EXISTS (SELECT 1 FROM fraud_cursors c WHERE c.auction_id = a.id)
    ORDER BY a.id
    ON CONFLICT (auction_id) DO NOTHING
    """
)

# Cursors of auctions closed before the look-back window, fully read: nothing more to
# score there, and the due-cursor query should not scan them forever.
_OLD_CURSORS = text(
    """
    DELETE FROM fraud_cursors c USING auctions a
    WHERE a.id = c.auction_id
      AND c.last_sequence >= a.last_sequence
      AND coalesce(a.ended_at, a.cancelled_at) < :since
    """
)

# A test's stand-in for a crash: called after everything is written, before the commit.
BeforeCommit = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class PassReport:
    auctions: int = 0
    bidders: int = 0
    flags: int = 0
    held: list[uuid.UUID] = field(default_factory=list)


async def score_pass(
    deps: Deps,
    policy: FraudPolicy,
    *,
    batch: int = 100,
    before_commit: BeforeCommit | None = None,
) -> PassReport:
    """One pass (see the module docstring); returns what it did."""
    now = deps.clock()
    since = now - policy.lookback
    report = PassReport()
    async with deps.uow() as uow:
        conn = await uow.session.connection()
        await conn.execute(_NEW_CURSORS, {"now": now, "since": since})
        await conn.execute(_OLD_CURSORS, {"since": since})
        await uow.commit()
    async with deps.uow() as uow:
        conn = await uow.session.connection()
        due = (
            await conn.execute(
                select(
                    CURSORS.c.auction_id,
                    CURSORS.c.last_sequence,
                    AUCTIONS.c.last_sequence,
                    AUCTIONS.c.status,
                )
                .join(AUCTIONS, AUCTIONS.c.id == CURSORS.c.auction_id)
                .where(AUCTIONS.c.last_sequence > CURSORS.c.last_sequence)
                .order_by(CURSORS.c.auction_id)
                .limit(batch)
                .with_for_update(of=CURSORS, skip_locked=True)
            )
        ).all()
        if not due:
            return report
        report.auctions = len(due)
        touched = {
            row.bidder_id
            for row in (
                await conn.execute(
                    select(BIDS.c.bidder_id)
                    .where(
                        or_(
                            *(
                                and_(
                                    BIDS.c.auction_id == auction_id,
                                    BIDS.c.sequence > read,
                                    BIDS.c.sequence <= upto,
                                )
                                for auction_id, read, upto, _ in due
                            ),
                            # An auction that ended: its features are final, so every
                            # bidder's score is worth another look.
                            BIDS.c.auction_id.in_(
                                [a for a, _, _, status in due if status == "ENDED"]
                            ),
                        )
                    )
                    .distinct()
                )
            ).all()
        }
        report.bidders = len(touched)
        if touched:
            facts = await load_facts(conn, touched, since, policy)
            for case in facts.cases:
                found = assess(case, facts.market, policy, now)
                account = facts.accounts[case.bidder_id]
                holdable = _holdable(found, account)
                if holdable and not account.held:
                    await _hold(deps, found)
                    report.held.append(case.bidder_id)
                report.flags += await _write_flags(conn, found, account, policy, now, holdable)
                await asyncio.sleep(0)  # the app's requests share this event loop
        for auction_id, _read, upto, _status in due:
            await conn.execute(
                sa_update(CURSORS)
                .where(CURSORS.c.auction_id == auction_id)
                .values(last_sequence=upto, scored_at=now)
            )
        if before_commit is not None:
            await before_commit()
        await uow.commit()
    return report


def _holdable(found: Assessment, account: Account) -> bool:
    """The total calls for a hold, and no admin dismissed a combined score as high."""
    dismissed = account.dismissed_score
    return found.hold and (dismissed is None or found.total > dismissed)


async def _hold(deps: Deps, found: Assessment) -> None:
    await set_fraud_hold(deps, found.bidder_id, True, actor_id=None)
    log.warning("fraud hold: %s scored %d", found.bidder_id, found.total)


async def _write_flags(
    conn: AsyncConnection,
    found: Assessment,
    account: Account,
    policy: FraudPolicy,
    now: datetime,
    holdable: bool,
) -> int:
    """Upsert the account's flags; a `combined_score` flag newly opened also writes the
    hold's audit row with the signals (so a pass that crashed after the hold writes it
    when it runs again, and a repeated pass does not write it twice)."""
    rows = [
        _flag_row(found.bidder_id, signal, details, now)
        for signal, details in flags_of(found, policy, held=account.held, holds=holdable)
    ]
    strongest = [s.as_json() for s in strongest_per_rule(found.signals)]
    if not rows:
        return 0
    statement = insert(FLAGS).values(rows)
    written = await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[FLAGS.c.user_id, FLAGS.c.rule, FLAGS.c.auction_id],
            index_where=text("status = 'OPEN'"),
            set_={"score": statement.excluded.score, "details": statement.excluded.details},
        ).returning(FLAGS.c.rule, text("(xmax = 0) AS inserted"))
    )
    if any(row.rule == COMBINED_RULE and row.inserted for row in written.all()):
        await conn.execute(
            insert(AUDIT).values(
                actor_id=None,
                action="fraud_score_hold",
                entity_type="user",
                entity_id=str(found.bidder_id),
                details={
                    "before": {"fraud_hold": account.held},
                    "after": {"fraud_hold": True, "score": found.total},
                    "reason": (
                        f"fraud score {found.total} reached the hold threshold "
                        f"{policy.hold_threshold}"
                    ),
                    "signals": strongest,
                },
                at=now,
            )
        )
    return len(rows)


def _flag_row(
    user_id: uuid.UUID, signal: Signal, details: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "auction_id": signal.auction_id,
        "rule": signal.rule,
        "score": signal.score,
        "details": details,
        "status": "OPEN",
        "created_at": now,
    }


class FraudScorer:
    """The loop every app process runs (gavel_app.py): a pass every `interval` seconds,
    the next one at once only while a full batch shows a backlog. It shares the app's
    event loop, so a pass yields between bidders and never runs back to back for long
    without a backlog to clear."""

    def __init__(
        self,
        deps: Deps,
        policy: FraudPolicy,
        *,
        interval: float,
        batch: int = 100,
        sweep_interval: float = 30.0,
    ):
        self.deps = deps
        self.policy = policy
        self.interval = interval
        self.batch = batch
        # How often barred accounts' leftover live bids are voided (moderation's sweep).
        self.sweep_interval = sweep_interval
        self.stopping = StopSignal()

    async def run(self) -> None:
        swept = -math.inf
        while not self.stopping.is_set:
            backlog = False
            try:
                report = await score_pass(self.deps, self.policy, batch=self.batch)
                backlog = report.auctions >= self.batch
                if time.monotonic() - swept >= self.sweep_interval:
                    swept = time.monotonic()
                    await sweep_barred_bids(self.deps)
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise
                log.exception("fraud scoring pass failed; retrying")
            await self.stopping.sleep(0 if backlog else self.interval)
