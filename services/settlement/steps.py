"""Gateway steps that survive a crash (docs/settlement.md "Crash-resume").

Every step that calls the gateway runs in three parts:

1. `begin`: under the sale's row lock (SELECT ... FOR UPDATE) the use case checks the
   state machine and records `pending_step` (and what the step needs: the dispute's
   resolution, the receipt time) and commits. From then on no other step may start.
2. `execute`: the gateway calls, each with the idempotency key `txn:{id}:{call}`. A
   capture or cancel first asks the gateway where the intent stands, and a resumed
   authorize looks for the intent its dead runner made (by metadata), so neither
   depends on the gateway remembering keys. Refunds and payouts rely on the key, which
   Stripe replays for 24 hours (the emulator's launcher until it restarts); the worker
   resumes a step within minutes.
3. `finish`: under the lock again, only if `pending_step` is still this step, the
   result is recorded: status, dates, balanced ledger postings, notifications, audit,
   and `pending_step` cleared, in one commit.

A step the gateway refuses (GatewayRequestRejected, PaymentDeclined: HTTP 4xx) is
recorded in 3 like any result, and `pending_step` cleared: retrying it unchanged would
fail again forever (records.py says what each refusal becomes). The refusal is then
raised to the caller. Only PAYMENT_GATEWAY_UNAVAILABLE leaves the step pending.

A crash after 1 leaves `pending_step` set: the worker (`run_due`) resumes the step by
running 2 and 3 again once `step_started_at` is older than the policy's
`step_retry_after`. A step finished by someone else is noticed in 3 and not recorded
twice (the ledger's unique (transaction, posting, account) index guards that too).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime

from sqlmodel import col, select

from domain.enums import TransactionStatus
from domain.errors import InvalidState
from domain.payments import (
    GatewayRequestRejected,
    GatewayUnavailable,
    PaymentDeclined,
    PaymentIntentView,
)
from domain.settlement import release_split
from services.deps import Deps
from services.settlement.common import gateway, status_of, step_key
from services.settlement.records import (
    AUTHORIZE,
    CANCEL,
    CAPTURE,
    PARTIAL_REFUND,
    REFUND,
    RELEASE,
    Result,
    finish,
    lapse_now,
    mark_authorized,
    mark_failed,
)
from storage.tables import Dispute, Transaction, User

__all__ = [
    "AUTHORIZE",
    "CANCEL",
    "CAPTURE",
    "PARTIAL_REFUND",
    "REFUND",
    "RELEASE",
    "StepInProgress",
    "begin",
    "execute",
    "lapse_now",
    "mark_authorized",
    "mark_failed",
]


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
    `resumed`: the step was begun by a runner that died. A `cancel` step the recording
    began (a sale that failed) runs next, at once.

    Raises PAYMENT_GATEWAY_UNAVAILABLE (the step stays pending: resumed later), or the
    gateway's refusal (PAYMENT_GATEWAY_REJECTED, PAYMENT_DECLINED) once recorded.
    """
    txn, buyer, seller, dispute = await _load(deps, txn_id)
    step = txn.pending_step
    if step is None:
        return txn
    try:
        result = await _call(deps, txn, step, buyer, seller, dispute, resumed=resumed)
    except (GatewayRequestRejected, PaymentDeclined) as err:
        result = Result(refused=err)
    txn = await finish(deps, txn_id, step, result, now or deps.clock())
    if txn.pending_step == CANCEL and step != CANCEL:
        # The sale failed: void its intent now; the worker resumes it if unreachable.
        with contextlib.suppress(GatewayUnavailable):
            txn = await execute(deps, txn_id, now)
    if result.refused is not None and step != CANCEL:
        raise result.refused
    return txn


async def _call(
    deps: Deps,
    txn: Transaction,
    step: str,
    buyer: User,
    seller: User,
    dispute: Dispute | None,
    *,
    resumed: bool,
) -> Result:
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
    return result


# --- Part 2: the gateway calls -------------------------------------------------------


async def _find_intent(
    deps: Deps, txn: Transaction, customer_id: str | None
) -> PaymentIntentView | None:
    """An intent of this attempt that a crashed authorize created but did not record,
    among the buyer's own (newest first: a gateway-wide page would miss it once other
    buyers had made a hundred intents since)."""
    attempt = str(txn.payment_attempts)
    for view in await gateway(deps).list_intents(limit=100, customer_id=customer_id):
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
    found = await _find_intent(deps, txn, buyer.stripe_customer_id) if resumed else None
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
        try:
            view = await gw.refund(
                txn.stripe_payment_intent_id,
                amount=refund,
                idempotency_key=step_key(txn, PARTIAL_REFUND),
            )
        except GatewayRequestRejected as err:
            result.refused = err  # captured (result.captured) but not refused back
            return result
        result.refund_id = view.id
    split = release_split(
        txn.price, txn.buyer_premium, refund, deps.settlement_policy.platform_fee_bps
    )
    if split.seller_payable > 0:
        try:
            result.payout = await gw.transfer(
                amount=split.seller_payable,
                currency=txn.currency,
                destination=seller.payout_account_id,
                transfer_group=f"txn:{txn.id}",
                idempotency_key=step_key(txn, "payout"),
            )
        except GatewayRequestRejected as err:
            # The money is captured and refunded as decided: the sale is released with
            # the payout recorded as a pending transfer, for an admin to pay.
            result.payout_refused = err.message
    return result


async def _lapse(deps: Deps, txn: Transaction) -> Result:
    """Cancel an unpaid sale's intent, unless the buyer's client confirmed it after all
    (the webhook saying so has not arrived): then the sale is paid, not lapsed. A FAILED
    sale's intent (records.mark_failed) is cancelled whatever it holds, unless captured."""
    assert txn.stripe_payment_intent_id is not None
    intent = await gateway(deps).retrieve_intent(txn.stripe_payment_intent_id)
    keep: tuple[str, ...] = ("succeeded", "canceled")
    if status_of(txn) is not TransactionStatus.FAILED:
        keep = ("requires_capture", *keep)
    if intent.status not in keep:
        await _cancel_quietly(deps, txn, intent.id, CANCEL)
    return Result(intent=intent)


async def _give_back(deps: Deps, txn: Transaction) -> Result:
    """Full refund (captured) or void (authorized or awaiting payment)."""
    if txn.stripe_payment_intent_id is None:
        return Result()
    gw = gateway(deps)
    intent = await gw.retrieve_intent(txn.stripe_payment_intent_id)
    if intent.status == "succeeded":
        try:
            view = await gw.refund(intent.id, amount=None, idempotency_key=step_key(txn, REFUND))
        except GatewayRequestRejected as err:
            return Result(intent=intent, captured=True, refused=err)
        return Result(intent=intent, captured=True, refund_id=view.id)
    if intent.status != "canceled":
        await _cancel_quietly(deps, txn, intent.id, CANCEL)
    return Result(intent=intent)
