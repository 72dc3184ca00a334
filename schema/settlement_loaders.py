"""Per-request DataLoaders of the settlement types (made fresh by `Loaders.create`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from domain.reputation import Reputation
from services import settlement_reads as reads
from services.deps import Deps
from storage.tables import Dispute, Feedback, LedgerEntry, Transaction


@dataclass
class SettlementLoaders:
    transactions: DataLoader[uuid.UUID, Transaction | None]
    disputes: DataLoader[uuid.UUID, Dispute | None]
    dispute_of: DataLoader[uuid.UUID, Dispute | None]
    feedback_of: DataLoader[uuid.UUID, list[Feedback]]
    ledger_of: DataLoader[uuid.UUID, list[LedgerEntry]]
    second_chance_of: DataLoader[uuid.UUID, Transaction | None]
    reputations: DataLoader[uuid.UUID, Reputation]

    @classmethod
    def create(cls, deps: Deps) -> SettlementLoaders:
        return cls(
            transactions=DataLoader(lambda ids: reads.transactions_by_id(deps, ids)),
            disputes=DataLoader(lambda ids: reads.disputes_by_id(deps, ids)),
            dispute_of=DataLoader(lambda ids: reads.disputes_by_transaction(deps, ids)),
            feedback_of=DataLoader(lambda ids: reads.feedback_by_transaction(deps, ids)),
            ledger_of=DataLoader(lambda ids: reads.ledger_by_transaction(deps, ids)),
            second_chance_of=DataLoader(lambda ids: reads.second_chances_by_transaction(deps, ids)),
            reputations=DataLoader(lambda ids: reads.reputations_by_user(deps, ids)),
        )
