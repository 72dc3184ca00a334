"""Comparing the ledger with the gateway's intents."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import NotAvailableYet
from services.deps import Deps


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


async def reconcile(deps: Deps) -> ReconciliationReport:
    raise NotAvailableYet("reconcile")
