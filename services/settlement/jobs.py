"""The settlement worker's passes: start sales, lapse unpaid ones, refund paid sales
never shipped, capture before the authorization expires, auto-release, resume
interrupted steps.

Safe in several processes at once: each pass picks its rows with
`FOR UPDATE SKIP LOCKED` and, in that same transaction, records the step it begins
(`pending_step`), so a row another process holds or has begun is skipped; starting a
sale is an insert that does nothing when the sale exists.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, exists, select

from domain.enums import AuctionOutcome, AuctionStatus, TransactionStatus
from domain.errors import DomainError
from domain.settlement import OPEN_DISPUTES
from services.deps import Deps
from services.settlement import steps
from services.settlement.checkout import start_settlement
from services.settlement.common import audit, notify_both
from storage.tables import Auction, Dispute, Transaction
from storage.uow import UnitOfWork

log = logging.getLogger("gavel.settlement")

BATCH = 50


@dataclass
class JobReport:
    """What one `run_due` pass did (counts of sales per kind of move)."""

    started: int = 0
    lapsed: int = 0
    not_shipped: int = 0  # refunded in full: not shipped within the shipping window
    captured: int = 0
    released: int = 0
    resumed: int = 0
    errors: list[str] = field(default_factory=list)


async def run_due(deps: Deps, now: datetime | None = None) -> JobReport:
    """One pass at `now` (deps.clock() by default); errors of one sale are reported in
    `errors` and do not stop the others (its step stays pending and is resumed)."""
    now = now or deps.clock()
    report = JobReport()
    policy = deps.settlement_policy

    for auction_id in await _unsettled_auctions(deps):
        try:
            if await start_settlement(deps, auction_id) is not None:
                report.started += 1
        except DomainError as err:
            report.errors.append(f"start {auction_id}: {err.message}")

    # Lapse: unpaid after the payment window. Without an intent there is nothing to
    # cancel at the gateway, so the row fails at once.
    lapsing = await _claim(
        deps,
        steps.CANCEL,
        now,
        col(Transaction.status) == TransactionStatus.PENDING.value,
        col(Transaction.pay_by) <= now,
    )
    report.lapsed += await _run_all(deps, lapsing, now, report)

    # Not shipped within the shipping window, and no dispute open (an admin decides
    # those): the buyer gets everything back, through the full-refund step (a void
    # while uncaptured). Before the capture pass, so such a sale is not captured first.
    unshipped = await _claim_unshipped(deps, now)
    report.not_shipped += await _run_all(deps, unshipped, now, report)

    capturing = await _claim(
        deps,
        steps.CAPTURE,
        now,
        col(Transaction.status) == TransactionStatus.AUTHORIZED.value,
        col(Transaction.capture_before) <= now + policy.capture_margin,
    )
    report.captured += await _run_all(deps, capturing, now, report)

    releasing = await _claim(
        deps,
        steps.RELEASE,
        now,
        col(Transaction.status).in_(
            [TransactionStatus.AUTHORIZED.value, TransactionStatus.CAPTURED.value]
        ),
        col(Transaction.release_after) <= now,
        ~exists().where(
            col(Dispute.transaction_id) == Transaction.id,
            col(Dispute.status).in_([s.value for s in OPEN_DISPUTES]),
        ),
    )
    report.released += await _run_all(deps, releasing, now, report)

    stale = await _claim_stale(deps, now)
    report.resumed += await _run_all(deps, stale, now, report, resumed=True)
    return report


async def _unsettled_auctions(deps: Deps) -> list[uuid.UUID]:
    """SOLD auctions with no sale yet (of any type; FAILED sales count as a sale)."""
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Auction.id)
                .where(
                    col(Auction.status) == AuctionStatus.ENDED.value,
                    col(Auction.outcome) == AuctionOutcome.SOLD.value,
                    ~exists().where(col(Transaction.auction_id) == Auction.id),
                )
                .limit(BATCH)
            )
        ).all()
    return list(rows)


async def _claim(deps: Deps, step: str, now: datetime, *where: Any) -> list[uuid.UUID]:
    """Lock due rows no one holds (SKIP LOCKED), record `step` begun on each, commit."""
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Transaction)
                .where(col(Transaction.pending_step).is_(None), *where)
                .order_by(col(Transaction.created_at))
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=Transaction)
            )
        ).all()
        claimed = []
        for txn in rows:
            if step == steps.CANCEL and txn.stripe_payment_intent_id is None:
                await _lapse_without_intent(uow, txn, now)
                claimed.append(txn.id)
                continue
            steps.begin(txn, step, now)
            claimed.append(txn.id)
        await uow.commit()
    return claimed


async def _claim_unshipped(deps: Deps, now: datetime) -> list[uuid.UUID]:
    """Paid sales past their shipping window, unshipped and undisputed: the refund step
    is recorded begun, with notifications and an audit row saying why."""
    policy = deps.settlement_policy
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Transaction)
                .where(
                    col(Transaction.pending_step).is_(None),
                    col(Transaction.status).in_(
                        [TransactionStatus.AUTHORIZED.value, TransactionStatus.CAPTURED.value]
                    ),
                    col(Transaction.shipped_at).is_(None),
                    col(Transaction.authorized_at) < now - policy.shipping_window,
                    ~exists().where(
                        col(Dispute.transaction_id) == Transaction.id,
                        col(Dispute.status).in_([s.value for s in OPEN_DISPUTES]),
                    ),
                )
                .order_by(col(Transaction.created_at))
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=Transaction)
            )
        ).all()
        for txn in rows:
            assert txn.authorized_at is not None
            ship_by = policy.ship_by(txn.authorized_at)
            steps.begin(txn, steps.REFUND, now)
            await notify_both(
                uow,
                txn,
                "NOT_SHIPPED",
                f"The item was not shipped by {ship_by.isoformat()}: "
                "the buyer is refunded in full.",
            )
            audit(
                uow,
                None,
                "transaction.not_shipped",
                "transaction",
                txn.id,
                now,
                after={"pending_step": steps.REFUND},
                reason="not shipped in time",
                ship_by=ship_by.isoformat(),
            )
        await uow.commit()
    return [txn.id for txn in rows]


async def _lapse_without_intent(uow: UnitOfWork, txn: Transaction, now: datetime) -> None:
    await steps.lapse_now(uow, txn, now)
    txn.updated_at = now


async def _claim_stale(deps: Deps, now: datetime) -> list[uuid.UUID]:
    """Steps begun long enough ago that their runner must have died: claimed afresh
    (step_started_at = now) so that only one process resumes each."""
    cutoff = now - deps.settlement_policy.step_retry_after
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Transaction)
                .where(
                    col(Transaction.pending_step).is_not(None),
                    col(Transaction.step_started_at) <= cutoff,
                )
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for txn in rows:
            txn.step_started_at = now
            log.warning("resuming the %s step of transaction %s", txn.pending_step, txn.id)
        await uow.commit()
    return [txn.id for txn in rows]


async def _run_all(
    deps: Deps,
    txn_ids: list[uuid.UUID],
    now: datetime,
    report: JobReport,
    *,
    resumed: bool = False,
) -> int:
    done = 0
    for txn_id in txn_ids:
        try:
            await steps.execute(deps, txn_id, now, resumed=resumed)
            done += 1
        except DomainError as err:
            report.errors.append(f"transaction {txn_id}: {err.message}")
    return done
