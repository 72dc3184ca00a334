"""Part 3 of a gateway step (services/settlement/steps.py): recording its result under
the sale's row lock, once: status and dates, balanced ledger postings, notifications,
audit, the dispute's resolution, or what a refused call leaves (docs/settlement.md
"Refused steps"). Also the transitions webhooks and `pay` record (`mark_authorized`,
`mark_failed`, `lapse_now`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from domain.enums import DisputeStatus, TransactionStatus
from domain.errors import DomainError
from domain.ledger import (
    authorize_posting,
    payout_posting,
    refund_posting,
    release_posting,
    void_posting,
)
from domain.payments import PaymentIntentView, TransferView
from domain.settlement import OPEN_DISPUTES, release_split, transition
from services.deps import Deps
from services.settlement.common import (
    audit,
    has_posting,
    notify_both,
    notify_each,
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
    # The gateway refused the step's call (GatewayRequestRejected or PaymentDeclined):
    # recorded, never retried unchanged (docs/settlement.md "Refused steps").
    refused: DomainError | None = None
    payout_refused: str | None = None  # the transfer was refused: recorded as pending

    @property
    def refusal(self) -> str:
        return self.refused.message if self.refused is not None else ""


async def finish(
    deps: Deps, txn_id: uuid.UUID, step: str, result: Result, now: datetime
) -> Transaction:
    async with deps.uow() as uow:
        txn = await uow.session.get(Transaction, txn_id, with_for_update=True)
        assert txn is not None
        if txn.pending_step != step:
            return txn  # recorded by whoever resumed it first
        # Cleared first: recording may begin a follow-up step (mark_failed's cancel).
        txn.pending_step = None
        txn.step_started_at = None
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
        txn.updated_at = now
        await uow.commit()
        return txn


async def mark_authorized(
    deps: Deps, uow: UnitOfWork, txn: Transaction, intent: PaymentIntentView, now: datetime
) -> None:
    """PENDING -> AUTHORIZED with the escrow posting (also used by webhooks)."""
    was = txn.status
    txn.status = transition(status_of(txn), TransactionStatus.AUTHORIZED).value
    txn.stripe_payment_intent_id = intent.id
    txn.authorized_at = now
    txn.capture_before = deps.settlement_policy.capture_deadline(now, intent.capture_before)
    if not await has_posting(uow, txn.id, "authorize"):
        await record(uow, txn, authorize_posting(txn.amount, txn.currency), now)
    await notify_both(uow, txn, "PAYMENT_AUTHORIZED", "Payment received and held in escrow.")
    audit(
        uow,
        None,
        "transaction.authorized",
        "transaction",
        txn.id,
        now,
        before={"status": was},
        after={"status": txn.status, "capture_before": txn.capture_before},
        intent=intent.id,
    )


async def mark_failed(
    uow: UnitOfWork,
    txn: Transaction,
    reason: str,
    now: datetime,
    *,
    intent_status: str | None = None,
    strike: bool = False,
) -> None:
    """PENDING/AUTHORIZED -> FAILED; an escrow already posted goes back to the buyer.

    - An intent that may still hold or take money (`intent_status` is not "canceled" nor
      "succeeded"; None: unknown) is cancelled by a `cancel` step begun here, which the
      caller runs after committing (the worker resumes it otherwise): a FAILED sale's
      intent must not stay confirmable with the client secret the buyer holds.
    - An open dispute closes: nothing was captured, so RESOLVED_REFUND with
      refund_amount 0 ("payment voided"), nobody's loss.
    - `strike`: the buyer's payment was declined or refused, an unpaid strike like a
      lapse (not on a second-chance offer, which the runner-up was free to decline).
    """
    was = txn.status
    txn.status = transition(status_of(txn), TransactionStatus.FAILED).value
    txn.failure_reason = reason[:200]
    txn.failed_at = now
    if await has_posting(uow, txn.id, "authorize") and not await has_posting(uow, txn.id, "void"):
        await record(uow, txn, void_posting(txn.amount, txn.currency), now)
    if txn.stripe_payment_intent_id is not None and intent_status not in ("canceled", "succeeded"):
        txn.pending_step = CANCEL
        txn.step_started_at = now
    strike = strike and not txn.second_chance
    if strike:
        buyer = await uow.session.get(User, txn.buyer_id, with_for_update=True)
        assert buyer is not None
        buyer.unpaid_strikes += 1
    await _void_dispute(uow, txn, now)
    await notify_both(
        uow, txn, "PAYMENT_FAILED", f"The payment did not go through ({reason}); the sale failed."
    )
    audit(
        uow,
        None,
        "transaction.failed",
        "transaction",
        txn.id,
        now,
        before={"status": was},
        after={"status": txn.status},
        reason=reason,
        strike=strike,
    )


async def _void_dispute(uow: UnitOfWork, txn: Transaction, now: datetime) -> None:
    """Close the open dispute of a sale that failed: the money was never captured."""
    dispute = await _dispute_of(uow, txn)
    if dispute is None or DisputeStatus(dispute.status) not in OPEN_DISPUTES:
        return
    was = dispute.status
    dispute.status = DisputeStatus.RESOLVED_REFUND.value
    dispute.resolution = None
    dispute.refund_amount = 0
    dispute.resolved_at = now
    await notify_both(
        uow,
        txn,
        "DISPUTE_RESOLVED",
        "The dispute was closed: the payment was voided, nothing was taken.",
    )
    audit(
        uow,
        None,
        "dispute.voided",
        "dispute",
        dispute.id,
        now,
        before={"status": was},
        after={"status": dispute.status, "refund_amount": 0},
        reason="payment voided",
    )


async def _reopen_dispute(
    uow: UnitOfWork, txn: Transaction, step: str, refused: str, now: datetime
) -> None:
    """A refund the gateway refused: the dispute waits for a new decision (OPEN or
    SELLER_RESPONDED as it was: its status only changes when a resolution is recorded)."""
    dispute = await _dispute_of(uow, txn)
    if dispute is not None and dispute.resolved_at is None:
        audit(
            uow,
            dispute.resolved_by_id,
            "dispute.resolution_refused",
            "dispute",
            dispute.id,
            now,
            before={"resolution": dispute.resolution, "refund_amount": dispute.refund_amount},
            after={"resolution": None, "refund_amount": None},
            gateway_message=refused,
        )
        dispute.resolution = None
        dispute.refund_amount = None
        dispute.resolved_by_id = None
        await notify_both(
            uow,
            txn,
            "DISPUTE_REOPENED",
            "The payment provider refused the resolution; the dispute awaits a new decision.",
        )
    audit(
        uow,
        None,
        "transaction.step_refused",
        "transaction",
        txn.id,
        now,
        step=step,
        gateway_message=refused,
    )


def _captured_meanwhile(txn: Transaction, result: Result, now: datetime) -> None:
    """The gateway captured before refusing the next call: the row says so too."""
    if result.captured and status_of(txn) is TransactionStatus.AUTHORIZED:
        txn.status = transition(TransactionStatus.AUTHORIZED, TransactionStatus.CAPTURED).value
        txn.captured_at = now


async def _record_authorize(
    deps: Deps, uow: UnitOfWork, txn: Transaction, result: Result, now: datetime
) -> None:
    if status_of(txn) is not TransactionStatus.PENDING:
        return  # a webhook recorded it meanwhile
    intent = result.intent
    if result.refused is not None:
        await mark_failed(uow, txn, f"payment refused: {result.refusal}", now, strike=True)
        return
    if result.declined is not None:
        await mark_failed(uow, txn, f"card declined: {result.declined}", now, strike=True)
        return
    assert intent is not None
    txn.stripe_payment_intent_id = intent.id
    if intent.status in ("requires_capture", "succeeded"):
        await mark_authorized(deps, uow, txn, intent, now)
    elif intent.status == "canceled" or (
        txn.payment_method_id is not None and intent.status == "requires_payment_method"
    ):
        reason = f"card declined: {intent.last_error_code or 'declined'}"
        await mark_failed(uow, txn, reason, now, intent_status=intent.status, strike=True)
    # Otherwise the buyer's client confirms the intent (client secret); a webhook or
    # the next `pay` records the authorization.


async def _record_capture(uow: UnitOfWork, txn: Transaction, result: Result, now: datetime) -> None:
    if result.refused is not None:
        # Not retried: the authorization cannot be captured, the sale fails (its
        # authorization is cancelled); the reason and the audit row tell admins why.
        await mark_failed(uow, txn, f"capture refused: {result.refusal}", now)
        return
    if result.lost is not None:
        await mark_failed(uow, txn, result.lost, now, intent_status=_status(result))
        return
    if result.captured and status_of(txn) is TransactionStatus.AUTHORIZED:
        txn.status = transition(TransactionStatus.AUTHORIZED, TransactionStatus.CAPTURED).value
        txn.captured_at = now
        audit(
            uow,
            None,
            "transaction.captured",
            "transaction",
            txn.id,
            now,
            before={"status": TransactionStatus.AUTHORIZED.value},
            after={"status": txn.status},
        )


def _status(result: Result) -> str | None:
    return result.intent.status if result.intent is not None else None


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
    was = dispute.status
    dispute.status = status.value
    dispute.resolved_at = now
    loser_id = txn.buyer_id if status is DisputeStatus.RESOLVED_RELEASE else txn.seller_id
    loser = await uow.session.get(User, loser_id, with_for_update=True)
    assert loser is not None
    loser.disputes_lost += 1
    await notify_both(
        uow, txn, "DISPUTE_RESOLVED", f"The dispute was resolved: {dispute.resolution}."
    )
    audit(
        uow,
        dispute.resolved_by_id,
        "dispute.resolved",
        "dispute",
        dispute.id,
        now,
        before={"status": was},
        after={
            "status": dispute.status,
            "resolution": dispute.resolution,
            "refund_amount": dispute.refund_amount,
        },
        loser_id=loser_id,
    )


async def _record_release(
    deps: Deps, uow: UnitOfWork, txn: Transaction, result: Result, now: datetime, *, partial: bool
) -> None:
    if result.lost is not None:
        # The authorization expired or was cancelled uncaptured: nothing to release.
        await mark_failed(uow, txn, result.lost, now, intent_status=_status(result))
        return
    if result.refused is not None:
        # The sale stays as the gateway left it; a dispute's resolution waits for a new
        # decision; an auto-release is not tried again on every pass (release_after
        # cleared: the buyer's confirmation or an admin settles it, or the capture
        # deadline does).
        _captured_meanwhile(txn, result, now)
        step = PARTIAL_REFUND if partial else RELEASE
        await _reopen_dispute(uow, txn, step, result.refusal, now)
        txn.release_after = None
        return
    dispute = await _dispute_of(uow, txn)
    refund = (dispute.refund_amount or 0) if partial and dispute is not None else 0
    was = txn.status
    was_refunded = txn.refunded_amount
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
        if result.payout_refused is not None:
            # Recorded as a pending transfer like the emulator's: an admin pays it.
            audit(
                uow,
                None,
                "transaction.payout_refused",
                "transaction",
                txn.id,
                now,
                gateway_message=result.payout_refused,
            )
    txn.platform_fee = split.platform_fee
    txn.status = transition(status_of(txn), TransactionStatus.RELEASED).value
    txn.released_at = now
    if dispute is not None and dispute.resolution is not None:
        target = DisputeStatus.RESOLVED_REFUND if refund else DisputeStatus.RESOLVED_RELEASE
        await _resolve(uow, txn, dispute, target, now)
    await notify_both(
        uow, txn, "PAYMENT_RELEASED", "The sale is complete: payment released to the seller."
    )
    audit(
        uow,
        None,
        "transaction.released",
        "transaction",
        txn.id,
        now,
        before={"status": was, "refunded_amount": was_refunded},
        after={"status": txn.status, "refunded_amount": txn.refunded_amount},
        seller_payable=split.seller_payable,
        platform_fee=split.platform_fee,
        refunded=refund,
        payout=txn.payout_status,
    )


async def _record_refund(uow: UnitOfWork, txn: Transaction, result: Result, now: datetime) -> None:
    if result.refused is not None:
        _captured_meanwhile(txn, result, now)
        await _reopen_dispute(uow, txn, REFUND, result.refusal, now)
        return
    was = {"status": txn.status, "refunded_amount": txn.refunded_amount}
    if result.captured:
        await record(uow, txn, refund_posting(txn.amount, txn.currency), now)
    else:
        await record(uow, txn, void_posting(txn.amount, txn.currency), now)
    txn.status = transition(status_of(txn), TransactionStatus.REFUNDED).value
    txn.refunded_amount = txn.amount
    txn.refunded_at = now
    await _resolve(uow, txn, await _dispute_of(uow, txn), DisputeStatus.RESOLVED_REFUND, now)
    await notify_both(
        uow, txn, "PAYMENT_REFUNDED", "The payment was refunded to the buyer in full."
    )
    audit(
        uow,
        None,
        "transaction.refunded",
        "transaction",
        txn.id,
        now,
        before=was,
        after={"status": txn.status, "refunded_amount": txn.refunded_amount},
        refund=result.refund_id,
    )


async def _record_lapse(
    deps: Deps, uow: UnitOfWork, txn: Transaction, result: Result, now: datetime
) -> None:
    if status_of(txn) is TransactionStatus.FAILED:
        # The cancel step mark_failed began: the failed sale's intent is void now.
        audit(
            uow,
            None,
            "transaction.intent_cancelled",
            "transaction",
            txn.id,
            now,
            gateway_message=result.refusal or None,
        )
        return
    if status_of(txn) is not TransactionStatus.PENDING:
        return
    intent = result.intent
    if (
        result.refused is None
        and intent is not None
        and intent.status
        in (
            "requires_capture",
            "succeeded",
        )
    ):
        await mark_authorized(deps, uow, txn, intent, now)
        return
    await lapse_now(uow, txn, now)


async def lapse_now(uow: UnitOfWork, txn: Transaction, now: datetime) -> None:
    """PENDING -> FAILED for want of payment: an unpaid strike on the buyer (not for a
    second-chance offer, which the runner-up was free to decline)."""
    was = txn.status
    txn.status = transition(status_of(txn), TransactionStatus.FAILED).value
    txn.failure_reason = "payment window lapsed"
    txn.failed_at = now
    if not txn.second_chance:
        buyer = await uow.session.get(User, txn.buyer_id, with_for_update=True)
        assert buyer is not None
        buyer.unpaid_strikes += 1
    await notify_each(
        uow,
        txn,
        "PAYMENT_LAPSED",
        {
            txn.buyer_id: "The sale lapsed: it was not paid in time.",
            txn.seller_id: (
                "The buyer did not pay in time; you may offer the item to the runner-up."
            ),
        },
    )
    audit(
        uow,
        None,
        "transaction.lapsed",
        "transaction",
        txn.id,
        now,
        before={"status": was},
        after={"status": txn.status},
        strike=not txn.second_chance,
    )
