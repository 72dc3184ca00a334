"""Paying for a sale: starting settlement, saving a card, authorizing, second chances."""

from __future__ import annotations

import uuid

from domain.errors import NotAvailableYet
from domain.payments import SetupIntentView
from services.deps import Deps
from storage.tables import Transaction, User


async def start_settlement(deps: Deps, auction_id: uuid.UUID) -> Transaction | None:
    raise NotAvailableYet("start_settlement")


async def save_payment_method(deps: Deps, viewer: User, payment_method_id: str) -> None:
    raise NotAvailableYet("savePaymentMethod")


async def create_setup_intent(deps: Deps, viewer: User) -> SetupIntentView:
    raise NotAvailableYet("createSetupIntent")


async def pay(deps: Deps, viewer: User, transaction_id: uuid.UUID | str) -> Transaction:
    raise NotAvailableYet("pay")


async def offer_second_chance(
    deps: Deps, viewer: User, transaction_id: uuid.UUID | str
) -> Transaction:
    raise NotAvailableYet("offerSecondChance")
