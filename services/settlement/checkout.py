"""Paying for a sale: starting settlement, saving a card, authorizing, second chances.

A SOLD auction of any type (English with buy-now, Dutch, first-price, Vickrey: the
price is the auction's `final_price`) gets one Transaction for the final price plus the
buyer's premium. If the buyer has a saved card it is authorized at once (manual
capture: the hold is the escrow); otherwise the buyer pays with `pay`, which either
uses the saved card or leaves an intent whose client secret the buyer's client
confirms. Card data never reaches Gavel: only Stripe ids are stored.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from domain.enums import AuctionOutcome, AuctionStatus, AuctionType, TransactionStatus
from domain.errors import DomainError, Forbidden, InvalidState, ValidationFailed
from domain.payments import SetupIntentView
from domain.settlement import check_action, sale_amounts
from services.deps import Deps
from services.settlement import steps
from services.settlement.common import (
    audit,
    gateway,
    notify,
    require_party,
    status_of,
    visible_transaction,
)
from services.settlement.policy import policy_of
from storage.tables import Auction, Bid, Transaction, User


class PaymentMethodRequired(DomainError):
    code = "PAYMENT_METHOD_REQUIRED"


# Stripe ids of payment methods (and its test tokens such as pm_card_visa).
_PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,100}")


def _first_key(auction_id: uuid.UUID) -> str:
    return f"settle:{auction_id}:first"


def _second_chance_key(auction_id: uuid.UUID) -> str:
    return f"settle:{auction_id}:second-chance"


async def start_settlement(deps: Deps, auction_id: uuid.UUID) -> Transaction | None:
    """The sale of a SOLD auction, created once (later calls return the same row); None
    if the auction is not ENDED/SOLD. Authorizes the buyer's saved card at once; a
    refusal leaves the sale FAILED, an unreachable gateway leaves the step to the worker.
    """
    now = deps.clock()
    policy = policy_of(deps)
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
        notify(
            uow,
            txn,
            "SALE_STARTED",
            "You won: "
            + ("your saved card is being charged." if authorize else "please pay for your item."),
            to=(txn.buyer_id,),
        )
        notify(uow, txn, "SALE_STARTED", "Your item sold: awaiting payment.", to=(txn.seller_id,))
        audit(uow, None, "transaction.start", "transaction", txn.id, now, auction=str(auction_id))
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


async def _ensure_customer(deps: Deps, viewer: User) -> str:
    """The viewer's Stripe customer id, created once (key per user, so two concurrent
    calls get the same customer)."""
    async with deps.uow() as uow:
        user = await uow.session.get(User, viewer.id)
        assert user is not None
        if user.stripe_customer_id:
            return user.stripe_customer_id
    ref = await gateway(deps).create_customer(
        email=user.email, user_id=str(user.id), idempotency_key=f"user:{user.id}:customer"
    )
    async with deps.uow() as uow:
        user = await uow.session.get(User, viewer.id, with_for_update=True)
        assert user is not None
        if not user.stripe_customer_id:
            user.stripe_customer_id = ref.id
            await uow.commit()
        return user.stripe_customer_id or ref.id


async def save_payment_method(deps: Deps, viewer: User, payment_method_id: str) -> None:
    """Attach a payment method the client created (Stripe.js, or a SetupIntent's) to the
    viewer's customer and keep it for charging. Raises INVALID_INPUT (not a payment
    method id), PAYMENT_DECLINED (the card was refused on attaching)."""
    if not isinstance(payment_method_id, str) or not _PAYMENT_METHOD_ID.fullmatch(
        payment_method_id
    ):
        raise ValidationFailed(
            "paymentMethodId must be a Stripe payment method id (pm_...)",
            field="paymentMethodId",
        )
    customer_id = await _ensure_customer(deps, viewer)
    saved = await gateway(deps).save_payment_method(
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        idempotency_key=f"user:{viewer.id}:pm:{payment_method_id}",
    )
    async with deps.uow() as uow:
        user = await uow.session.get(User, viewer.id, with_for_update=True)
        assert user is not None
        user.stripe_payment_method_id = saved
        audit(uow, viewer.id, "payment_method.saved", "user", viewer.id, deps.clock())
        await uow.commit()


async def create_setup_intent(deps: Deps, viewer: User) -> SetupIntentView:
    """A SetupIntent on the viewer's customer; the client confirms its client secret
    and then calls save_payment_method (or the setup_intent.succeeded webhook saves it)."""
    customer_id = await _ensure_customer(deps, viewer)
    return await gateway(deps).create_setup_intent(
        customer_id=customer_id, idempotency_key=f"user:{viewer.id}:setup:{uuid.uuid4()}"
    )


async def pay(deps: Deps, viewer: User, transaction_id: uuid.UUID | str) -> Transaction:
    """The buyer pays a PENDING sale: with the saved card (authorized at once: the sale
    is AUTHORIZED, or FAILED when declined: PAYMENT_DECLINED is not raised, the row
    says so), or without one by an intent whose client secret the buyer's client
    confirms (the sale stays PENDING until the gateway reports the authorization).

    Errors: NOT_FOUND (not a party), FORBIDDEN (the seller), INVALID_STATE (not
    PENDING, or a step in progress), PAYMENT_GATEWAY_UNAVAILABLE.
    """
    now = deps.clock()
    gateway(deps)  # no gateway: nothing to pay with
    async with deps.uow() as uow:  # refusals first: a stranger gets no Stripe customer
        txn = await visible_transaction(uow, viewer, transaction_id, lock=False)
        require_party(viewer, txn.buyer_id, "buyer")
        check_action("pay", status_of(txn))
    await _ensure_customer(deps, viewer)
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
            audit(uow, viewer.id, "transaction.pay", "transaction", txn.id, now)
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
                await steps.mark_failed(uow, txn, "payment cancelled", now)
            txn.updated_at = now
            await uow.commit()
        return txn


async def payment_client_secret(
    deps: Deps, viewer: User, transaction_id: uuid.UUID | str
) -> str | None:
    """The client secret of a PENDING sale's intent, for the buyer's client only (None
    for anyone else, or when there is nothing to confirm)."""
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=False)
    if (
        viewer.id != txn.buyer_id
        or status_of(txn) is not TransactionStatus.PENDING
        or txn.stripe_payment_intent_id is None
        or deps.payments is None
    ):
        return None
    intent = await deps.payments.retrieve_intent(txn.stripe_payment_intent_id)
    return intent.client_secret


async def _runner_up(
    deps: Deps, auction: Auction, excluded: set[uuid.UUID]
) -> tuple[uuid.UUID, int]:
    """The highest other bidder and their highest (last) bid; INVALID_STATE if none."""
    async with deps.uow() as uow:
        row = (
            await uow.session.exec(
                select(Bid.bidder_id, func.max(Bid.amount).label("top"))
                .where(
                    col(Bid.auction_id) == auction.id,
                    col(Bid.voided_at).is_(None),
                    col(Bid.bidder_id).not_in(excluded),
                )
                .group_by(col(Bid.bidder_id))
                .order_by(func.max(Bid.amount).desc(), func.min(Bid.sequence))
                .limit(1)
            )
        ).first()
    if row is None:
        raise InvalidState("no other bidder to offer the item to", field="transactionId")
    return row[0], int(row[1])


async def offer_second_chance(
    deps: Deps, viewer: User, transaction_id: uuid.UUID | str
) -> Transaction:
    """The seller offers a FAILED sale's item to the runner-up at the runner-up's
    highest bid (English auctions only, once per auction): a new PENDING sale the
    runner-up pays with `pay` within the payment window (SPEC section 7).

    Errors: NOT_FOUND, FORBIDDEN (not the seller), INVALID_STATE (not FAILED, not
    English, no runner-up, already offered, or the item sold again meanwhile).
    """
    now = deps.clock()
    policy = policy_of(deps)
    async with deps.uow() as uow:
        failed = await visible_transaction(uow, viewer, transaction_id, lock=True)
        if viewer.id != failed.seller_id:
            raise Forbidden("only the seller can offer a second chance", field="transactionId")
        check_action("offer a second chance", status_of(failed))
        auction = await uow.session.get(Auction, failed.auction_id)
        assert auction is not None
        if auction.type != AuctionType.ENGLISH.value:
            raise InvalidState(
                "second-chance offers are for English auctions only", field="transactionId"
            )
        if failed.second_chance:
            raise InvalidState("a second-chance sale is not offered again", field="transactionId")
        earlier = (
            await uow.session.exec(
                select(Transaction.buyer_id, Transaction.second_chance).where(
                    col(Transaction.auction_id) == auction.id
                )
            )
        ).all()
        if any(offered for _, offered in earlier):
            raise InvalidState(
                "a second chance was already offered for this auction", field="transactionId"
            )
    bidder_id, price = await _runner_up(deps, auction, {buyer for buyer, _ in earlier})
    amounts = sale_amounts(price, policy.buyer_premium_bps)
    offer = Transaction(
        auction_id=auction.id,
        buyer_id=bidder_id,
        seller_id=auction.seller_id,
        amount=amounts.amount,
        price=amounts.price,
        buyer_premium=amounts.buyer_premium,
        currency=auction.currency,
        second_chance=True,
        replaces_id=failed.id,
        idempotency_key=_second_chance_key(auction.id),
        pay_by=policy.pay_by(now),
        created_at=now,
        updated_at=now,
    )
    async with deps.uow() as uow:
        uow.session.add(offer)
        notify(
            uow,
            offer,
            "SECOND_CHANCE_OFFER",
            "The winner did not pay: the item is offered to you at your highest bid.",
            to=(bidder_id,),
        )
        audit(
            uow,
            viewer.id,
            "transaction.second_chance",
            "transaction",
            offer.id,
            now,
            replaces=str(failed.id),
            price=price,
        )
        try:
            await uow.commit()
        except IntegrityError:
            raise InvalidState(
                "a second chance was already offered for this auction", field="transactionId"
            ) from None
    return offer
