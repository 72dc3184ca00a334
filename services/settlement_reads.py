"""Batch reads behind the settlement types' per-request DataLoaders (one query per
batch), and the admins' list of disputes.

They check no permission: a `Transaction` object of the schema is only ever made from a
sale the viewer may see (services/settlement `get_transaction`, `list_purchases`,
`list_sales` and the use cases' results), and these load what hangs off such a sale.
Anything reached from elsewhere (a second-chance sale) is filtered by the caller with
`can_see`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import col, select

from domain.enums import DisputeStatus
from domain.errors import Forbidden
from domain.reputation import Reputation, reputation
from services.batch_loads import all_per_key, one_per_key
from services.deps import Deps
from services.paging import Page, newest_first
from services.settlement.common import is_admin
from storage.tables import Dispute, Feedback, LedgerEntry, Transaction, User


async def transactions_by_id(deps: Deps, ids: Sequence[uuid.UUID]) -> list[Transaction | None]:
    return await one_per_key(deps, Transaction, "id", ids)


async def disputes_by_id(deps: Deps, ids: Sequence[uuid.UUID]) -> list[Dispute | None]:
    return await one_per_key(deps, Dispute, "id", ids)


async def disputes_by_transaction(
    deps: Deps, transaction_ids: Sequence[uuid.UUID]
) -> list[Dispute | None]:
    """Each sale's dispute (a sale has at most one: uq_disputes_transaction)."""
    return await one_per_key(deps, Dispute, "transaction_id", transaction_ids)


async def feedback_by_transaction(
    deps: Deps, transaction_ids: Sequence[uuid.UUID]
) -> list[list[Feedback]]:
    """Each sale's feedback (at most one per party), oldest first."""
    return await all_per_key(
        deps,
        Feedback,
        "transaction_id",
        transaction_ids,
        col(Feedback.created_at),
        col(Feedback.id),
    )


async def ledger_by_transaction(
    deps: Deps, transaction_ids: Sequence[uuid.UUID]
) -> list[list[LedgerEntry]]:
    """Each sale's ledger legs in posting order."""
    return await all_per_key(
        deps, LedgerEntry, "transaction_id", transaction_ids, col(LedgerEntry.id)
    )


async def second_chances_by_transaction(
    deps: Deps, transaction_ids: Sequence[uuid.UUID]
) -> list[Transaction | None]:
    """The second-chance sale offered in place of each (failed) sale, if any."""
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Transaction)
                .where(col(Transaction.replaces_id).in_(transaction_ids))
                .order_by(col(Transaction.created_at))
            )
        ).all()
    found = {r.replaces_id: r for r in rows}
    return [found.get(i) for i in transaction_ids]


async def reputations_by_user(deps: Deps, user_ids: Sequence[uuid.UUID]) -> list[Reputation]:
    """Each user's Bayesian reputation (domain/reputation.py) from the ratings received,
    with the prior of the running policy (GAVEL_REPUTATION_PRIOR_*)."""
    policy = deps.settlement_policy
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(
                    col(Feedback.subject_id),
                    func.count(),
                    func.coalesce(func.sum(Feedback.rating), 0),
                )
                .where(col(Feedback.subject_id).in_(user_ids))
                .group_by(col(Feedback.subject_id))
            )
        ).all()
    sums = {subject: (int(count), int(total)) for subject, count, total in rows}
    out = []
    for user_id in user_ids:
        count, total = sums.get(user_id, (0, 0))
        out.append(
            reputation(total, count, policy.reputation_prior_mean, policy.reputation_prior_weight)
        )
    return out


MAX_DISPUTE_PAGE = 100


async def list_disputes(
    deps: Deps, viewer: User, status: DisputeStatus | None, first: int | None, after: str | None
) -> Page[Dispute]:
    """Disputes for admins to resolve, newest first (keyset cursor on created_at, id),
    optionally of one status. Raises FORBIDDEN for anyone but an admin, INVALID_CURSOR,
    INVALID_PAGE_SIZE (first outside 0-100)."""
    if not is_admin(viewer):
        raise Forbidden("admins only")
    where = [col(Dispute.status) == status.value] if status is not None else []
    return await newest_first(
        deps,
        select(Dispute).where(*where),
        Dispute,
        col(Dispute.created_at),
        first,
        after,
        MAX_DISPUTE_PAGE,
        select(func.count()).select_from(Dispute).where(*where),
    )
