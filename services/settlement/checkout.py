"""Paying for a sale: starting settlement and authorizing the buyer's payment.

A SOLD auction of any type (English with buy-now, Dutch, first-price, Vickrey: the
price is the auction's `final_price`) gets one Transaction for the final price plus the
buyer's premium. If the buyer has a saved card it is authorized at once (manual
capture: the hold is the escrow); otherwise the buyer pays with `pay`, which either
uses the saved card or leaves an intent whose client secret the buyer's client
confirms. Card data never reaches Gavel: only Stripe ids are stored.
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from domain.enums import AuctionOutcome, AuctionStatus, TransactionStatus
from domain.errors import DomainError
from domain.settlement import check_action, sale_amounts
from services.deps import Deps
from services.settlement import steps
from services.settlement.cards import ensure_customer
from services.settlement.common import (
    audit,
    gateway,
    notify_each,
    require_party,
    status_of,
    visible_transaction,
)
from storage.tables import Auction, Transaction, User


class PaymentMethodRequired(DomainError):
    code = "PAYMENT_METHOD_REQUIRED"


def _first_key(auction_id: uuid.UUID) -> str:
    return f"settle:{auction_id}:first"


async def start_settlement(deps: Deps, auction_id: uuid.UUID) -> Transaction | None:
    """The sale of a SOLD auction, created once (later calls return the same row); None
    if the auction is not ENDED/SOLD. Authorizes the buyer's saved card at once; a
    refusal leaves the sale FAILED, an unreachable gateway leaves the step to the worker.
    """
    now = deps.clock()
    policy = deps.settlement_policy
    async with deps.uow() as uow:
        auction = await uow.session.get(Auction, auction_id)
        if (
            auction is None
            or auction.status != AuctionStatus.ENDED.value
            or auction.outcome != AuctionOutcome.SOLD.value
            or auction.winner_id is None
            or not auction.final_price
        ):
            return None
        buyer = await uow.session.get(User, auction.winner_id)
        assert buyer is not None
        amounts = sale_amounts(auction.final_price, policy.buyer_premium_bps)
        has_card = bool(buyer.stripe_customer_id and buyer.stripe_payment_method_id)
        authorize = has_card and deps.payments is not None
        txn_id = uuid.uuid4()
        inserted = (
            await uow.session.exec(
                insert(Transaction)
                .values(
                    id=txn_id,
                    auction_id=auction.id,
                    buyer_id=auction.winner_id,
                    seller_id=auction.seller_id,
                    amount=amounts.amount,
                    price=amounts.price,
                    buyer_premium=amounts.buyer_premium,
                    platform_fee=0,
                    refunded_amount=0,
                    currency=auction.currency,
                    status=TransactionStatus.PENDING.value,
                    idempotency_key=_first_key(auction.id),
                    pay_by=policy.pay_by(now),
                    payment_method_id=buyer.stripe_payment_method_id if authorize else None,
                    payment_attempts=1 if authorize else 0,
                    # Recorded with the row: a crash before the call is resumed too.
                    pending_step=steps.AUTHORIZE if authorize else None,
                    step_started_at=now if authorize else None,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
                .returning(col(Transaction.id))
            )
        ).first()
        if inserted is None:
            existing = (
                await uow.session.exec(
                    select(Transaction)
                    .where(col(Transaction.auction_id) == auction_id)
                    .order_by(col(Transaction.created_at).desc())
                )
            ).first()
            return existing
        txn = await uow.session.get(Transaction, txn_id)
        assert txn is not None
        await notify_each(
            uow,
            txn,
            "SALE_STARTED",
            {
                txn.buyer_id: "You won: "
                + (
                    "your saved card is being charged."
                    if authorize
                    else "please pay for your item."
                ),
                txn.seller_id: "Your item sold: awaiting payment.",
            },
        )
        audit(
            uow,
            None,
            "transaction.start",
            "transaction",
            txn.id,
            now,
            after={"status": txn.status, "amount": txn.amount, "currency": txn.currency},
            auction=str(auction_id),
        )
        await uow.commit()
    if not authorize:
        return txn
    return await _run_quietly(deps, txn)


async def _run_quietly(deps: Deps, txn: Transaction) -> Transaction:
    """Run the begun step; if the gateway is unreachable the worker resumes it later."""
    try:
        return await steps.execute(deps, txn.id)
    except DomainError:
        return txn


async def pay(deps: Deps, viewer: User, transaction_id: uuid.UUID | str) -> Transaction:
    """The buyer pays a PENDING sale: with the saved card (authorized at once: the sale
    is AUTHORIZED, or FAILED when declined: PAYMENT_DECLINED is not raised, the row
    says so), or without one by an intent whose client secret the buyer's client
    confirms (the sale stays PENDING until the gateway reports the authorization).

    Errors: NOT_FOUND (not a party), FORBIDDEN (the seller), INVALID_STATE (not
    PENDING, or a step in progress), RATE_LIMITED (the viewer's payment budget is
    spent: nothing is called), PAYMENT_GATEWAY_UNAVAILABLE.
    """
    now = deps.clock()
    gateway(deps)  # no gateway: nothing to pay with
    async with deps.uow() as uow:  # refusals first: a stranger gets no Stripe customer
        txn = await visible_transaction(uow, viewer, transaction_id, lock=False)
        require_party(viewer, txn.buyer_id, "buyer")
        check_action("pay", status_of(txn))
    await deps.throttle.payment(viewer.id)
    await ensure_customer(deps, viewer)
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=True)
        require_party(viewer, txn.buyer_id, "buyer")
        check_action("pay", status_of(txn))
        buyer = await uow.session.get(User, viewer.id)
        assert buyer is not None
        card = buyer.stripe_payment_method_id
        if txn.stripe_payment_intent_id is not None and (
            card is None or card == txn.payment_method_id
        ):
            # Same means as before: look at the intent again rather than pay twice.
            txn_id = txn.id
        else:
            steps.begin(txn, steps.AUTHORIZE, now)
            txn.payment_method_id = card
            txn.payment_attempts += 1
            txn_id = txn.id
            audit(
                uow,
                viewer.id,
                "transaction.pay",
                "transaction",
                txn.id,
                now,
                after={"pending_step": txn.pending_step, "payment_attempts": txn.payment_attempts},
            )
            await uow.commit()
    if txn.pending_step == steps.AUTHORIZE:
        return await steps.execute(deps, txn_id, now)
    return await sync_intent(deps, txn_id)


async def sync_intent(deps: Deps, txn_id: uuid.UUID) -> Transaction:
    """Record what the gateway says of a PENDING sale's intent (the client confirmed it,
    or it was refused) when no webhook has said so yet."""
    async with deps.uow() as uow:
        txn = await uow.session.get(Transaction, txn_id)
        assert txn is not None
    if txn.stripe_payment_intent_id is None:
        return txn
    intent = await gateway(deps).retrieve_intent(txn.stripe_payment_intent_id)
    now = deps.clock()
    async with deps.uow() as uow:
        txn = await uow.session.get(Transaction, txn_id, with_for_update=True)
        assert txn is not None
        if status_of(txn) is TransactionStatus.PENDING and txn.pending_step is None:
            if intent.status in ("requires_capture", "succeeded"):
                await steps.mark_authorized(deps, uow, txn, intent, now)
            elif intent.status == "canceled":
                await steps.mark_failed(
                    uow, txn, "payment cancelled", now, intent_status="canceled"
                )
            txn.updated_at = now
            await uow.commit()
        return txn


async def payment_client_secret(
    deps: Deps, viewer: User, transaction_id: uuid.UUID | str
) -> str | None:
    """The client secret of a PENDING sale's intent, for the buyer's client only (None
    for anyone else, or when there is nothing to confirm). The gateway read counts
    against the viewer's payment budget (RATE_LIMITED when spent); a request reads each
    intent once (schema/settlement_loaders.py)."""
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=False)
    if (
        viewer.id != txn.buyer_id
        or status_of(txn) is not TransactionStatus.PENDING
        or txn.stripe_payment_intent_id is None
        or deps.payments is None
    ):
        return None
    await deps.throttle.payment(viewer.id)
    intent = await deps.payments.retrieve_intent(txn.stripe_payment_intent_id)
    return intent.client_secret
