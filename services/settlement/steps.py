"""Gateway steps that survive a crash (docs/settlement.md "Crash-resume").

Every step that calls the gateway runs in three parts:

1. `begin`: under the sale's row lock (SELECT ... FOR UPDATE) the use case checks the
   state machine and records `pending_step` (and what the step needs: the dispute's
   resolution, the receipt time) and commits. From then on no other step may start.
2. `execute`: the gateway calls, each with the idempotency key `txn:{id}:{call}`, and
   each first asks the gateway where the intent stands, so a call repeated after a crash
   (or after the gateway forgot its keys: Stripe keeps them 24 hours, the emulator's
   replay cache until it restarts) never captures, refunds or authorizes twice.
3. `finish`: under the lock again, only if `pending_step` is still this step, the
   result is recorded: status, dates, balanced ledger postings, notifications, audit,
   and `pending_step` cleared, in one commit.

A crash after 1 leaves `pending_step` set: the worker (`run_due`) resumes the step by
running 2 and 3 again once `step_started_at` is older than the policy's
`step_retry_after`. A step finished by someone else is noticed in 3 and not recorded
twice (the ledger's unique (transaction, posting, account) index guards that too).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from domain.enums import DisputeStatus, TransactionStatus
from domain.errors import InvalidState
from domain.ledger import (
    authorize_posting,
    payout_posting,
    refund_posting,
    release_posting,
    void_posting,
)
from domain.payments import (
    GatewayRequestRejected,
    PaymentDeclined,
    PaymentIntentView,
    TransferView,
)
from domain.settlement import release_split, transition
from services.deps import Deps
from services.settlement.common import (
    audit,
    gateway,
    has_posting,
    notify,
    notify_both,
    record,
    status_of,
    step_key,
)
from services.settlement.policy import policy_of
from storage.tables import Dispute, Transaction, User
from storage.uow import UnitOfWork

AUTHORIZE = "authorize"
CAPTURE = "capture"
RELEASE = "release"
REFUND = "refund"
PARTIAL_REFUND = "partial_refund"
CANCEL = "cancel"

HELD = frozenset({TransactionStatus.AUTHORIZED, TransactionStatus.CAPTURED})


class StepInProgress(InvalidState):
    """Another gateway step of this sale has begun and not finished yet."""


def begin(txn: Transaction, step: str, now: datetime) -> None:
    """Record that `step` starts (the caller holds the row lock and commits)."""
    if txn.pending_step is not None:
        raise StepInProgress(
            f"a {txn.pending_step} step of this transaction is in progress; try again shortly",
            field="transactionId",
        )
    txn.pending_step = step
    txn.step_started_at = now
    txn.updated_at = now


@dataclass
class Result:
    """What the gateway said during `execute`."""

    intent: PaymentIntentView | None = None
    declined: str | None = None  # decline code (or "declined") when refused
    captured: bool = False  # the intent is captured now (by us, before or now)
    lost: str | None = None  # the authorization is gone (cancelled or expired)
    refund_id: str | None = None
    payout: TransferView | None = None
    extra: dict[str, str] = field(default_factory=dict)


async def _load(deps: Deps, txn_id: uuid.UUID) -> tuple[Transaction, User, User, Dispute | None]:
    async with deps.uow() as uow:
        txn = await uow.session.get(Transaction, txn_id)
        assert txn is not None
        buyer = await uow.session.get(User, txn.buyer_id)
        seller = await uow.session.get(User, txn.seller_id)
        assert buyer is not None and seller is not None
        dispute = (
            await uow.session.exec(select(Dispute).where(col(Dispute.transaction_id) == txn_id))
        ).first()
    return txn, buyer, seller, dispute


async def execute(
    deps: Deps, txn_id: uuid.UUID, now: datetime | None = None, *, resumed: bool = False
) -> Transaction:
    """Run the sale's pending step's gateway calls, then record them (parts 2 and 3).
    `resumed`: the step was begun by a runner that died. Raises
    PAYMENT_GATEWAY_UNAVAILABLE (the step stays pending: resumed later)."""
    txn, buyer, seller, dispute = await _load(deps, txn_id)
    step = txn.pending_step
    if step is None:
        return txn
    if step == AUTHORIZE:
        result = await _authorize(deps, txn, buyer, resumed=resumed)
    elif step == CAPTURE:
        result = await _capture(deps, txn)
    elif step == RELEASE:
        result = await _release(deps, txn, seller, refund=0)
    elif step == PARTIAL_REFUND:
        assert dispute is not None and dispute.refund_amount is not None
        result = await _release(deps, txn, seller, refund=dispute.refund_amount)
    elif step == REFUND:
        result = await _give_back(deps, txn)
    elif step == CANCEL:
        result = await _lapse(deps, txn)
    else:  # pragma: no cover - the table's CHECK allows no other value
        raise AssertionError(step)
    return await finish(deps, txn_id, step, result, now or deps.clock())


# --- Part 2: the gateway calls -------------------------------------------------------


async def _find_intent(deps: Deps, txn: Transaction) -> PaymentIntentView | None:
    """An intent of this attempt that a crashed authorize created but did not record."""
    attempt = str(txn.payment_attempts)
    for view in await gateway(deps).list_intents(limit=100):
        meta = view.metadata
        if meta.get("transaction_id") == str(txn.id) and meta.get("attempt") == attempt:
            return view
    return None


async def _authorize(deps: Deps, txn: Transaction, buyer: User, *, resumed: bool) -> Result:
    gw = gateway(deps)
    if txn.stripe_payment_intent_id is not None:
        # An earlier attempt's intent (client-secret flow) the buyer is replacing.
        old = await gw.retrieve_intent(txn.stripe_payment_intent_id)
        if old.status in ("requires_capture", "succeeded", "processing"):
            return Result(intent=old)  # the client confirmed it after all
        if old.status != "canceled":
            await _cancel_quietly(deps, txn, old.id, f"cancel:{txn.payment_attempts - 1}")
    found = await _find_intent(deps, txn) if resumed else None
    if found is not None:
        return Result(intent=found)
    assert buyer.stripe_customer_id is not None
    try:
        intent = await gw.authorize(
            amount=txn.amount,
            currency=txn.currency,
            customer_id=buyer.stripe_customer_id,
            payment_method_id=txn.payment_method_id,
            metadata={
                "transaction_id": str(txn.id),
                "auction_id": str(txn.auction_id),
                "attempt": str(txn.payment_attempts),
            },
            idempotency_key=step_key(txn, f"authorize:{txn.payment_attempts}"),
        )
    except PaymentDeclined as err:
        return Result(declined=err.decline_code or "declined")
    return Result(intent=intent)


async def _cancel_quietly(deps: Deps, txn: Transaction, intent_id: str, key: str) -> None:
    # Refused when already captured, cancelled or expired: it holds nothing more then.
    with contextlib.suppress(GatewayRequestRejected):
        await gateway(deps).cancel(intent_id, idempotency_key=step_key(txn, key))


async def _ensure_captured(deps: Deps, txn: Transaction) -> Result:
    """Capture the whole authorization unless the gateway says it is captured already."""
    assert txn.stripe_payment_intent_id is not None
    gw = gateway(deps)
    intent = await gw.retrieve_intent(txn.stripe_payment_intent_id)
    if intent.status == "succeeded":
        return Result(intent=intent, captured=True)
    if intent.status != "requires_capture":
        return Result(intent=intent, lost=f"authorization {intent.status}")
    try:
        intent = await gw.capture(intent.id, amount=None, idempotency_key=step_key(txn, CAPTURE))
    except GatewayRequestRejected as err:
        again = await gw.retrieve_intent(intent.id)
        if again.status == "succeeded":
            return Result(intent=again, captured=True)
        return Result(intent=again, lost=f"capture refused: {err.message}")
    return Result(intent=intent, captured=intent.status == "succeeded")


async def _capture(deps: Deps, txn: Transaction) -> Result:
    return await _ensure_captured(deps, txn)


async def _release(deps: Deps, txn: Transaction, seller: User, *, refund: int) -> Result:
    """Capture if needed, refund `refund` (a partial refund), pay the seller out."""
    result = await _ensure_captured(deps, txn)
    if result.lost is not None:
        return result
    assert txn.stripe_payment_intent_id is not None
    gw = gateway(deps)
    if refund:
        view = await gw.refund(
            txn.stripe_payment_intent_id,
            amount=refund,
            idempotency_key=step_key(txn, PARTIAL_REFUND),
        )
        result.refund_id = view.id
    split = release_split(txn.price, txn.buyer_premium, refund, policy_of(deps).platform_fee_bps)
    if split.seller_payable > 0:
        result.payout = await gw.transfer(
            amount=split.seller_payable,
            currency=txn.currency,
            destination=seller.payout_account_id,
            transfer_group=f"txn:{txn.id}",
            idempotency_key=step_key(txn, "payout"),
        )
    return result


async def _lapse(deps: Deps, txn: Transaction) -> Result:
    """Cancel an unpaid sale's intent, unless the buyer's client confirmed it after all
    (the webhook saying so has not arrived): then the sale is paid, not lapsed."""
    assert txn.stripe_payment_intent_id is not None
    intent = await gateway(deps).retrieve_intent(txn.stripe_payment_intent_id)
    if intent.status not in ("requires_capture", "succeeded", "canceled"):
        await _cancel_quietly(deps, txn, intent.id, CANCEL)
    return Result(intent=intent)


async def _give_back(deps: Deps, txn: Transaction) -> Result:
    """Full refund (captured) or void (authorized or awaiting payment)."""
    if txn.stripe_payment_intent_id is None:
        return Result()
    gw = gateway(deps)
    intent = await gw.retrieve_intent(txn.stripe_payment_intent_id)
    if intent.status == "succeeded":
        view = await gw.refund(intent.id, amount=None, idempotency_key=step_key(txn, REFUND))
        return Result(intent=intent, captured=True, refund_id=view.id)
    if intent.status != "canceled":
        await _cancel_quietly(deps, txn, intent.id, CANCEL)
    return Result(intent=intent)


# --- Part 3: recording ---------------------------------------------------------------


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
    txn.capture_before = policy_of(deps).capture_deadline(now, intent.capture_before)
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
    split = release_split(txn.price, txn.buyer_premium, refund, policy_of(deps).platform_fee_bps)
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
