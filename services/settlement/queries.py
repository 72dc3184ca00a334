"""Reading sales: one transaction, a user's purchases and sales, a sale's ledger,
a user's reputation. Only the parties (and admins) see a sale; anyone else is told it
does not exist (NOT_FOUND)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from domain.reputation import Reputation
from domain.reputation import reputation as score_of
from services.deps import Deps
from services.paging import Page, newest_first
from services.settlement.common import visible_transaction
from storage.tables import Feedback, LedgerEntry, Transaction, User

MAX_PAGE = 100


async def get_transaction(deps: Deps, viewer: User, transaction_id: uuid.UUID | str) -> Transaction:
    """The sale if `viewer` is its buyer, its seller or an admin; else NotFound."""
    async with deps.uow() as uow:
        return await visible_transaction(uow, viewer, transaction_id, lock=False)


async def _newest_first(
    deps: Deps, where: Any, first: int | None, after: str | None
) -> Page[Transaction]:
    return await newest_first(
        deps,
        select(Transaction).where(where),
        Transaction,
        col(Transaction.created_at),
        first,
        after,
        MAX_PAGE,
        select(func.count()).select_from(Transaction).where(where),
    )


async def list_purchases(
    deps: Deps, viewer: User, first: int | None = None, after: str | None = None
) -> Page[Transaction]:
    """The viewer's purchases, newest first (keyset cursor on created_at, id)."""
    return await _newest_first(deps, col(Transaction.buyer_id) == viewer.id, first, after)


async def list_sales(
    deps: Deps, viewer: User, first: int | None = None, after: str | None = None
) -> Page[Transaction]:
    """The viewer's sales as seller, newest first."""
    return await _newest_first(deps, col(Transaction.seller_id) == viewer.id, first, after)


async def ledger_for(
    deps: Deps, viewer: User, transaction_id: uuid.UUID | str
) -> list[LedgerEntry]:
    """The sale's ledger entries in posting order (parties or admins; else NotFound)."""
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=False)
        rows = (
            await uow.session.exec(
                select(LedgerEntry)
                .where(col(LedgerEntry.transaction_id) == txn.id)
                .order_by(col(LedgerEntry.id))
            )
        ).all()
    return list(rows)


async def reputation(deps: Deps, user_id: uuid.UUID) -> Reputation:
    """The user's Bayesian reputation from the ratings received (domain/reputation.py)."""
    policy = deps.settlement_policy
    async with deps.uow() as uow:
        count, total = (
            await uow.session.exec(
                select(func.count(), func.coalesce(func.sum(Feedback.rating), 0)).where(
                    col(Feedback.subject_id) == user_id
                )
            )
        ).one()
    return score_of(
        int(total), int(count), policy.reputation_prior_mean, policy.reputation_prior_weight
    )


def reputation_of_user(deps: Deps, user: User) -> Reputation:
    """The reputation kept on the user's row (updated with each rating received): no
    query, for lists of users. A user without ratings shows the prior mean."""
    policy = deps.settlement_policy
    if user.reputation_count == 0:
        return Reputation(float(policy.reputation_prior_mean), 0)
    return Reputation(user.reputation_score, user.reputation_count)
