"""Disputes: the buyer opens, the seller responds, an admin resolves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.errors import NotAvailableYet
from services.deps import Deps
from services.listings import ImageUpload
from storage.tables import Dispute, User


async def open_dispute(
    deps: Deps,
    viewer: User,
    transaction_id: uuid.UUID | str,
    reason: str,
    message: str,
    evidence_image_ids: Sequence[str] = (),
    *,
    evidence_uploads: Sequence[ImageUpload] = (),
) -> Dispute:
    raise NotAvailableYet("openDispute")


async def respond_to_dispute(
    deps: Deps, viewer: User, dispute_id: uuid.UUID | str, message: str
) -> Dispute:
    raise NotAvailableYet("respondToDispute")


async def resolve_dispute(
    deps: Deps,
    viewer: User,
    dispute_id: uuid.UUID | str,
    resolution: str,
    refund_amount: int | None = None,
) -> Dispute:
    raise NotAvailableYet("resolveDispute")
