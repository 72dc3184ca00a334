"""Shipping and receipt: the seller ships, the buyer confirms, escrow is released."""

from __future__ import annotations

import uuid

from domain.errors import NotAvailableYet
from services.deps import Deps
from storage.tables import Transaction, User


async def mark_shipped(
    deps: Deps,
    viewer: User,
    transaction_id: uuid.UUID | str,
    carrier: str,
    tracking_number: str,
) -> Transaction:
    raise NotAvailableYet("markShipped")


async def confirm_receipt(deps: Deps, viewer: User, transaction_id: uuid.UUID | str) -> Transaction:
    raise NotAvailableYet("confirmReceipt")
