"""Part 3 of a gateway step (services/settlement/steps.py): recording its result under
the sale's row lock, once: status and dates, balanced ledger postings, notifications,
audit, the dispute's resolution. Also the transitions webhooks and `pay` record
(`mark_authorized`, `mark_failed`, `lapse_now`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from domain.enums import DisputeStatus, TransactionStatus
from domain.ledger import (
    authorize_posting,
    payout_posting,
    refund_posting,
    release_posting,
    void_posting,
)
from domain.payments import PaymentIntentView, TransferView
from domain.settlement import release_split, transition
from services.deps import Deps
from services.settlement.common import (
    audit,
    has_posting,
    notify,
    notify_both,
    record,
    status_of,
)
from storage.tables import Dispute, Transaction, User
from storage.uow import UnitOfWork

AUTHORIZE = "authorize"
CAPTURE = "capture"
RELEASE = "release"
REFUND = "refund"
PARTIAL_REFUND = "partial_refund"
CANCEL = "cancel"


@dataclass
class Result:
    """What the gateway said during a step's calls."""

    intent: PaymentIntentView | None = None
    declined: str | None = None  # decline code (or "declined") when refused
    captured: bool = False  # the intent is captured now (by us, before or now)
    lost: str | None = None  # the authorization is gone (cancelled or expired)
    refund_id: str | None = None
    payout: TransferView | None = None


async def finish(
    deps: Deps, txn_id: uuid.UUID, step: str, result: Result, now: datetime
) -> Transaction:
    async with deps.uow() as uow:
        txn = await uow.session.get(Transaction, txn_id, with_for_update=True)
        assert txn is not None
        if txn.pending_step != step:
            return txn  # recorded by whoever resumed it first
        if step == AUTHORIZE:
            await _record_authorize(deps, uow, txn, result, now)
        elif step == CAPTURE:
            await _record_capture(uow, txn, result, now)
        elif step in (RELEASE, PARTIAL_REFUND):
            await _record_release(deps, uow, txn, result, now, partial=step == PARTIAL_REFUND)
        elif step == REFUND:
            await _record_refund(uow, txn, result, now)
        elif step == CANCEL:
            await _record_lapse(deps, uow, txn, result, now)
        txn.pending_step = None
        txn.step_started_at = None
        txn.updated_at = now
        await uow.commit()
        return txn


async def mark_authorized(
    deps: Deps, uow: UnitOfWork, txn: Transaction, intent: PaymentIntentView, now: datetime
) -> None:
    """PENDING -> AUTHORIZED with the escrow posting (also used by webhooks)."""
    txn.status = transition(status_of(txn), TransactionStatus.AUTHORIZED).value
    txn.stripe_payment_intent_id = intent.id
    txn.authorized_at = now
    txn.capture_before = deps.settlement_policy.capture_deadline(now, intent.capture_before)
    if not await has_posting(uow, txn.id, "authorize"):
        await record(uow, txn, authorize_posting(txn.amount, txn.currency), now)
    notify_both(uow, txn, "PAYMENT_AUTHORIZED", "Payment received and held in escrow.")
    audit(uow, None, "transaction.authorized", "transaction", txn.id, now, intent=intent.id)


async def mark_failed(uow: UnitOfWork, txn: Transaction, reason: str, now: datetime) -> None:
    """PENDING/AUTHORIZED -> FAILED; an escrow already posted goes back to the buyer."""
    txn.status = transition(status_of(txn), TransactionStatus.FAILED).value
    txn.failure_reason = reason[:200]
    txn.failed_at = now
    if await has_posting(uow, txn.id, "authorize") and not await has_posting(uow, txn.id, "void"):
        await record(uow, txn, void_posting(txn.amount, txn.currency), now)
    notify_both(
        uow, txn, "PAYMENT_FAILED", f"The payment did not go through ({reason}); the sale failed."
    )
    audit(uow, None, "transaction.failed", "transaction", txn.id, now, reason=reason)


async def _record_authorize(
    deps: Deps, uow: UnitOfWork, txn: Transaction, result: Result, now: datetime
) -> None:
    if status_of(txn) is not TransactionStatus.PENDING:
        return  # a webhook recorded it meanwhile
    intent = result.intent
    if result.declined is not None:
        await mark_failed(uow, txn, f"card declined: {result.declined}", now)
        return
    assert intent is not None
    txn.stripe_payment_intent_id = intent.id
    if intent.status in ("requires_capture", "succeeded"):
        await mark_authorized(deps, uow, txn, intent, now)
    elif intent.status == "canceled" or (
        txn.payment_method_id is not None and intent.status == "requires_payment_method"
    ):
        await mark_failed(uow, txn, f"card declined: {intent.last_error_code or 'declined'}", now)
    # Otherwise the buyer's client confirms the intent (client secret); a webhook or
    # the next `pay` records the authorization.


async def _record_capture(uow: UnitOfWork, txn: Transaction, result: Result, now: datetime) -> None:
    if result.lost is not None:
        await mark_failed(uow, txn, result.lost, now)
        return
    if result.captured and status_of(txn) is TransactionStatus.AUTHORIZED:
        txn.status = transition(TransactionStatus.AUTHORIZED, TransactionStatus.CAPTURED).value
        txn.captured_at = now
        audit(uow, None, "transaction.captured", "transaction", txn.id, now)


async def _dispute_of(uow: UnitOfWork, txn: Transaction) -> Dispute | None:
    return (
        await uow.session.exec(
            select(Dispute).where(col(Dispute.transaction_id) == txn.id).with_for_update()
        )
    ).first()


async def _resolve(
    uow: UnitOfWork, txn: Transaction, dispute: Dispute | None, status: DisputeStatus, now: datetime
) -> None:
    """Close a dispute being resolved; the loser's record counts it."""
    if dispute is None or dispute.resolution is None or dispute.resolved_at is not None:
        return
    dispute.status = status.value
    dispute.resolved_at = now
    loser_id = txn.buyer_id if status is DisputeStatus.RESOLVED_RELEASE else txn.seller_id
    loser = await uow.session.get(User, loser_id, with_for_update=True)
    assert loser is not None
    loser.disputes_lost += 1
    notify_both(uow, txn, "DISPUTE_RESOLVED", f"The dispute was resolved: {dispute.resolution}.")
    audit(
        uow,
        dispute.resolved_by_id,
        "dispute.resolved",
        "dispute",
        dispute.id,
        now,
        resolution=dispute.resolution,
        refund_amount=dispute.refund_amount,
    )


async def _record_release(
    deps: Deps, uow: UnitOfWork, txn: Transaction, result: Result, now: datetime, *, partial: bool
) -> None:
    if result.lost is not None:
        # The authorization expired or was cancelled uncaptured: nothing to release.
        await mark_failed(uow, txn, result.lost, now)
        return
    dispute = await _dispute_of(uow, txn)
    refund = (dispute.refund_amount or 0) if partial and dispute is not None else 0
    if status_of(txn) is TransactionStatus.AUTHORIZED:
        txn.status = transition(TransactionStatus.AUTHORIZED, TransactionStatus.CAPTURED).value
        txn.captured_at = now
    if refund:
        await record(uow, txn, refund_posting(refund, txn.currency), now)
        txn.refunded_amount = refund
        txn.refunded_at = now
    split = release_split(
        txn.price, txn.buyer_premium, refund, deps.settlement_policy.platform_fee_bps
    )
    await record(uow, txn, release_posting(split, txn.currency), now)
    if split.seller_payable > 0:
        pending = result.payout is None or result.payout.status != "paid"
        await record(
            uow, txn, payout_posting(split.seller_payable, txn.currency, pending=pending), now
        )
        txn.payout_id = result.payout.id if result.payout else None
        txn.payout_status = "pending" if pending else "paid"
    txn.platform_fee = split.platform_fee
    txn.status = transition(status_of(txn), TransactionStatus.RELEASED).value
    txn.released_at = now
    if dispute is not None and dispute.resolution is not None:
        target = DisputeStatus.RESOLVED_REFUND if refund else DisputeStatus.RESOLVED_RELEASE
        await _resolve(uow, txn, dispute, target, now)
    notify_both(
        uow, txn, "PAYMENT_RELEASED", "The sale is complete: payment released to the seller."
    )
    audit(
        uow,
        None,
        "transaction.released",
        "transaction",
        txn.id,
        now,
        seller_payable=split.seller_payable,
        platform_fee=split.platform_fee,
        refunded=refund,
        payout=txn.payout_status,
    )


async def _record_refund(uow: UnitOfWork, txn: Transaction, result: Result, now: datetime) -> None:
    if result.captured:
        await record(uow, txn, refund_posting(txn.amount, txn.currency), now)
    else:
        await record(uow, txn, void_posting(txn.amount, txn.currency), now)
    txn.status = transition(status_of(txn), TransactionStatus.REFUNDED).value
    txn.refunded_amount = txn.amount
    txn.refunded_at = now
    await _resolve(uow, txn, await _dispute_of(uow, txn), DisputeStatus.RESOLVED_REFUND, now)
    notify_both(uow, txn, "PAYMENT_REFUNDED", "The payment was refunded to the buyer in full.")
    audit(uow, None, "transaction.refunded", "transaction", txn.id, now, refund=result.refund_id)


async def _record_lapse(
    deps: Deps, uow: UnitOfWork, txn: Transaction, result: Result, now: datetime
) -> None:
    if status_of(txn) is not TransactionStatus.PENDING:
        return
    intent = result.intent
    if intent is not None and intent.status in ("requires_capture", "succeeded"):
        await mark_authorized(deps, uow, txn, intent, now)
        return
    await lapse_now(uow, txn, now)


async def lapse_now(uow: UnitOfWork, txn: Transaction, now: datetime) -> None:
    """PENDING -> FAILED for want of payment: an unpaid strike on the buyer (not for a
    second-chance offer, which the runner-up was free to decline)."""
    txn.status = transition(status_of(txn), TransactionStatus.FAILED).value
    txn.failure_reason = "payment window lapsed"
    txn.failed_at = now
    if not txn.second_chance:
        buyer = await uow.session.get(User, txn.buyer_id, with_for_update=True)
        assert buyer is not None
        buyer.unpaid_strikes += 1
    notify(
        uow, txn, "PAYMENT_LAPSED", "The sale lapsed: it was not paid in time.", to=(txn.buyer_id,)
    )
    notify(
        uow,
        txn,
        "PAYMENT_LAPSED",
        "The buyer did not pay in time; you may offer the item to the runner-up.",
        to=(txn.seller_id,),
    )
    audit(uow, None, "transaction.lapsed", "transaction", txn.id, now, strike=not txn.second_chance)
