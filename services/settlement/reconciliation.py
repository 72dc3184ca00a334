"""Comparing the ledger with the gateway's intents (issue 14 item 4).

For every sale with an intent, what the ledger and the row say must match what the
gateway says: an AUTHORIZED sale's intent holds its amount uncaptured and escrow holds
the amount; a captured sale's intent received the amount; a FAILED or PENDING sale
holds nothing at the gateway. Every sale's entries, and the whole ledger per currency,
sum to zero. Intents that name a sale Gavel does not link to them (an authorization a
crash left behind) are reported when they hold money. Nothing is changed: differences
are reported (and logged by the worker) for a person to look at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select

from domain.enums import TransactionStatus
from domain.ledger import Account
from domain.payments import PaymentIntentView
from services.deps import Deps
from services.settlement.common import gateway
from storage.tables import LedgerEntry, Transaction

log = logging.getLogger("gavel.settlement")

T = TransactionStatus
HOLDING = ("requires_capture", "succeeded")


@dataclass(frozen=True, slots=True)
class Difference:
    transaction_id: str
    intent_id: str | None
    problem: str


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    checked: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def _expected(txn: Transaction, intent: PaymentIntentView, escrow: int) -> list[str]:
    status = T(txn.status)
    problems: list[str] = []
    held = status in (T.AUTHORIZED, T.CAPTURED)
    if escrow != (txn.amount if held else 0):
        problems.append(f"escrow holds {escrow}, expected {txn.amount if held else 0}")
    if intent.amount != txn.amount:
        problems.append(f"intent amount {intent.amount} != sale amount {txn.amount}")
    if status is T.AUTHORIZED and (
        intent.status != "requires_capture" or intent.amount_capturable < txn.amount
    ):
        problems.append(f"AUTHORIZED here, intent {intent.status} ({intent.amount_capturable})")
    captured = status in (T.CAPTURED, T.RELEASED) or (
        status is T.REFUNDED and txn.captured_at is not None
    )
    if captured and (intent.status != "succeeded" or intent.amount_received != txn.amount):
        problems.append(f"{status.value} here, intent {intent.status} ({intent.amount_received})")
    if status in (T.PENDING, T.FAILED) and intent.status in HOLDING:
        problems.append(f"{status.value} here, but the gateway holds money ({intent.status})")
    return problems


# Settled sales are checked for this long after their last change; older ones are done.
SETTLED_CHECKED_FOR = timedelta(days=2)


async def reconcile(deps: Deps) -> ReconciliationReport:
    """Check sales with an intent against the gateway (all unsettled ones, settled ones
    changed lately), and the whole ledger's balance."""
    gw = gateway(deps)
    recent = {view.id: view for view in await gw.list_intents(limit=100)}
    since = deps.clock() - SETTLED_CHECKED_FOR
    open_states = [T.PENDING.value, T.AUTHORIZED.value, T.CAPTURED.value]
    async with deps.uow() as uow:
        sales = (
            await uow.session.exec(
                select(Transaction).where(
                    col(Transaction.stripe_payment_intent_id).is_not(None),
                    col(Transaction.status).in_(open_states)
                    | (col(Transaction.updated_at) >= since),
                )
            )
        ).all()
        escrow = dict(
            (
                await uow.session.exec(
                    select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
                    .where(col(LedgerEntry.account) == Account.ESCROW.value)
                    .group_by(col(LedgerEntry.transaction_id))
                )
            ).all()
        )
        unbalanced = (
            await uow.session.exec(
                select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
                .group_by(col(LedgerEntry.transaction_id))
                .having(func.sum(LedgerEntry.amount) != 0)
            )
        ).all()
        totals = (
            await uow.session.exec(
                select(LedgerEntry.currency, func.sum(LedgerEntry.amount)).group_by(
                    col(LedgerEntry.currency)
                )
            )
        ).all()
    differences = [
        Difference(str(txn_id), None, f"entries sum to {total}, not zero")
        for txn_id, total in unbalanced
    ]
    differences += [
        Difference("*", None, f"the {currency} ledger sums to {total}, not zero")
        for currency, total in totals
        if int(total) != 0
    ]
    linked = set()
    for txn in sales:
        intent_id = txn.stripe_payment_intent_id
        assert intent_id is not None
        linked.add(intent_id)
        view = recent.get(intent_id) or await gw.retrieve_intent(intent_id)
        for problem in _expected(txn, view, int(escrow.get(txn.id, 0))):
            differences.append(Difference(str(txn.id), intent_id, problem))
    for view in recent.values():
        if view.id not in linked and view.metadata.get("transaction_id") and view.status in HOLDING:
            differences.append(
                Difference(
                    view.metadata["transaction_id"], view.id, "an intent holding money no sale uses"
                )
            )
    for difference in differences:
        log.warning("reconciliation: %s", difference)
    return ReconciliationReport(checked=len(sales), differences=differences)
