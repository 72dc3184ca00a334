"""Feedback after a completed sale, and the reputation it feeds (SPEC section 7)."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import col, select

from domain.errors import Forbidden
from domain.reputation import bayesian_score
from domain.settlement import AlreadyLeftFeedback, check_action, clean_feedback
from services.deps import Deps
from services.settlement.common import audit, notify, status_of, visible_transaction
from storage.tables import Feedback, User


async def leave_feedback(
    deps: Deps,
    viewer: User,
    transaction_id: uuid.UUID | str,
    rating: int,
    comment: str | None = None,
) -> Feedback:
    """The buyer rates the seller or the seller the buyer, once each, on a completed
    sale: RELEASED (a partial refund ends RELEASED too) or REFUNDED: rating 1-5,
    comment up to 2,000 characters.
    The subject's reputation (Bayesian average, domain/reputation.py) is updated.

    Errors: NOT_FOUND (a stranger), FORBIDDEN (an admin who is not a party),
    INVALID_STATE (not completed), ALREADY_LEFT_FEEDBACK, INVALID_INPUT (rating,
    comment).
    """
    rating, text = clean_feedback(rating, comment)
    now = deps.clock()
    policy = deps.settlement_policy
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=True)
        if viewer.id not in (txn.buyer_id, txn.seller_id):
            raise Forbidden("only the buyer and the seller leave feedback", field="transactionId")
        check_action("leave feedback", status_of(txn))
        mine = (
            await uow.session.exec(
                select(Feedback.id).where(
                    col(Feedback.transaction_id) == txn.id, col(Feedback.author_id) == viewer.id
                )
            )
        ).first()
        if mine is not None:
            raise AlreadyLeftFeedback(
                "you already left feedback for this sale", field="transactionId"
            )
        subject_id = txn.seller_id if viewer.id == txn.buyer_id else txn.buyer_id
        feedback = Feedback(
            transaction_id=txn.id,
            author_id=viewer.id,
            subject_id=subject_id,
            rating=rating,
            comment=text,
            created_at=now,
        )
        uow.session.add(feedback)
        await uow.session.flush()
        subject = await uow.session.get(User, subject_id, with_for_update=True)
        assert subject is not None
        count, total = (
            await uow.session.exec(
                select(func.count(), func.coalesce(func.sum(Feedback.rating), 0)).where(
                    col(Feedback.subject_id) == subject_id
                )
            )
        ).one()
        subject.reputation_count = int(count)
        subject.reputation_score = bayesian_score(
            int(total), int(count), policy.reputation_prior_mean, policy.reputation_prior_weight
        )
        await notify(
            uow, txn, "FEEDBACK_RECEIVED", f"You received a {rating}/5 rating.", to=(subject_id,)
        )
        audit(uow, viewer.id, "feedback.left", "transaction", txn.id, now, rating=rating)
        await uow.commit()
    return feedback
