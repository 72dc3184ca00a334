"""Feedback after a completed sale, and the reputation it feeds."""

from __future__ import annotations

import uuid

from domain.errors import NotAvailableYet
from services.deps import Deps
from storage.tables import Feedback, User


async def leave_feedback(
    deps: Deps,
    viewer: User,
    transaction_id: uuid.UUID | str,
    rating: int,
    comment: str | None = None,
) -> Feedback:
    raise NotAvailableYet("leaveFeedback")
