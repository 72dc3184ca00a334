"""Per-request DataLoaders of the settlement types (made fresh by `Loaders.create`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from domain.errors import DomainError
from domain.reputation import Reputation
from services import settlement_reads as reads
from services.deps import Deps
from services.settlement.checkout import payment_client_secret
from storage.tables import Dispute, Feedback, LedgerEntry, Transaction, User


@dataclass(frozen=True, slots=True)
class SecretKey:
    """One sale's current intent, asked by one viewer (the viewer's row is carried, not
    compared: a request has one viewer)."""

    transaction_id: uuid.UUID
    intent_id: str
    viewer_id: uuid.UUID
    viewer: User = field(compare=False, hash=False)


async def _client_secrets(
    deps: Deps, keys: Sequence[SecretKey]
) -> list[str | BaseException | None]:
    """Each intent's client secret, read from the gateway once per request however many
    aliases or paths ask for it; each read counts against the viewer's payment budget
    (GAVEL_RATE_PAYMENT_USER), and a refusal (RATE_LIMITED) is those fields' error.

    The secret is read, not stored: each payment attempt makes a new intent (in the
    settlement steps), so a stored copy would have to follow every attempt, while one
    counted read per request bounds the gateway traffic as well. (Keeping it would be
    allowed: a client secret is not card data.)"""
    out: list[str | BaseException | None] = []
    for key in keys:  # one at a time: a budget that runs out refuses the rest
        try:
            out.append(await payment_client_secret(deps, key.viewer, key.transaction_id))
        except DomainError as err:
            out.append(err)
    return out


@dataclass
class SettlementLoaders:
    transactions: DataLoader[uuid.UUID, Transaction | None]
    disputes: DataLoader[uuid.UUID, Dispute | None]
    dispute_of: DataLoader[uuid.UUID, Dispute | None]
    feedback_of: DataLoader[uuid.UUID, list[Feedback]]
    ledger_of: DataLoader[uuid.UUID, list[LedgerEntry]]
    second_chance_of: DataLoader[uuid.UUID, Transaction | None]
    reputations: DataLoader[uuid.UUID, Reputation]
    client_secrets: DataLoader[SecretKey, str | None]

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
            client_secrets=DataLoader(lambda keys: _client_secrets(deps, keys)),
        )
