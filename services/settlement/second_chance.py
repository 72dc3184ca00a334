"""Second-chance offers (SPEC section 7): after an English auction's sale failed
(declined or lapsed), its seller may offer the item to the runner-up at the runner-up's
highest bid, once."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from domain.enums import AuctionType
from domain.errors import Forbidden, InvalidState
from domain.settlement import check_action, sale_amounts
from services.deps import Deps
from services.settlement.common import audit, notify, status_of, visible_transaction
from storage.tables import Auction, Bid, Transaction, User


def second_chance_key(auction_id: uuid.UUID) -> str:
    return f"settle:{auction_id}:second-chance"


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

    Errors: NOT_FOUND, FORBIDDEN (not the seller), INVALID_STATE (not FAILED, shipped,
    not English, no runner-up, already offered, or the item sold again meanwhile).
    """
    now = deps.clock()
    policy = deps.settlement_policy
    async with deps.uow() as uow:
        failed = await visible_transaction(uow, viewer, transaction_id, lock=True)
        if viewer.id != failed.seller_id:
            raise Forbidden("only the seller can offer a second chance", field="transactionId")
        check_action("offer a second chance", status_of(failed))
        if failed.shipped_at is not None:
            # The item left the seller: it cannot be offered to anyone else.
            raise InvalidState(
                "the item was shipped: it cannot be offered again", field="transactionId"
            )
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
        idempotency_key=second_chance_key(auction.id),
        pay_by=policy.pay_by(now),
        created_at=now,
        updated_at=now,
    )
    async with deps.uow() as uow:
        uow.session.add(offer)
        await notify(
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
