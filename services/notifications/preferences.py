"""Per-kind email preferences (SPEC section 5): which notification kinds a user also gets
by email. Every notification is stored in the inbox and pushed live whatever these say.

Stored on the profile (`users.notification_prefs`, `{"KIND": bool}`); a kind the user
never set takes `EMAIL_DEFAULTS`. The kinds and their defaults are documented in
docs/notifications.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import literal, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import col

from domain.errors import NotFound, ValidationFailed
from services.deps import Deps
from storage.tables import User

# Kind -> emailed by default. Worth an email by default: what needs the user to act or
# settles money; not by default: what happens often or only informs.
EMAIL_DEFAULTS: dict[str, bool] = {
    # auctions (realtime/event_records.py, services/listings.py, ending_soon.py)
    "OUTBID": True,
    "AUCTION_WON": True,
    "AUCTION_LOST": False,
    "AUCTION_SOLD": True,
    "AUCTION_UNSOLD": True,
    "RESERVE_MET": False,
    "ENDING_SOON": False,
    "AUCTION_CANCELLED": True,
    # bids voided or retracted and the auction recomputed (realtime/recompute_records.py)
    "BIDS_VOIDED": True,
    "BIDS_RETRACTED": True,
    "LEADING_AGAIN": True,
    # settlement (services/settlement)
    "SALE_STARTED": True,
    "PAYMENT_AUTHORIZED": True,
    "PAYMENT_FAILED": True,
    "PAYMENT_LAPSED": True,
    "PAYMENT_RELEASED": True,
    "PAYMENT_REFUNDED": True,
    "ITEM_SHIPPED": True,
    "NOT_SHIPPED": True,
    "DISPUTE_OPENED": True,
    "DISPUTE_RESPONDED": True,
    "DISPUTE_REOPENED": True,
    "DISPUTE_RESOLVED": True,
    "FEEDBACK_RECEIVED": False,
    "SECOND_CHANCE_OFFER": True,
    # reserved for the search issue
    "SAVED_SEARCH_MATCH": True,
}
# Every kind the code creates is one of these (tests/unit/test_notification_kinds.py finds
# the creation sites in the source and checks them against it).
KINDS = tuple(EMAIL_DEFAULTS)


def effective(stored: Mapping[str, object] | None) -> dict[str, bool]:
    """Every kind's email choice: the user's where set, else the default. A stored value
    that is not a bool (never written by this module) counts as unset."""
    stored = stored or {}
    return {
        kind: value if isinstance(value := stored.get(kind), bool) else default
        for kind, default in EMAIL_DEFAULTS.items()
    }


def wants_email(stored: Mapping[str, object] | None, kind: str) -> bool:
    """Whether a notification of `kind` is emailed to a user with these preferences;
    a kind not in the table (a newer one) follows its default, else True."""
    value = (stored or {}).get(kind)
    return value if isinstance(value, bool) else EMAIL_DEFAULTS.get(kind, True)


async def update_email_preferences(
    deps: Deps, user_id: uuid.UUID, changes: Mapping[str, bool]
) -> dict[str, bool]:
    """Set the email choice of the kinds in `changes` (others keep theirs); returns every
    kind's choice. Raises ValidationFailed (INVALID_INPUT, field `preferences`) for an
    unknown kind or more entries than kinds; nothing changes then."""
    if len(changes) > len(KINDS):
        raise ValidationFailed("too many preferences", field="preferences")
    unknown = sorted(set(changes) - set(KINDS))
    if unknown:
        raise ValidationFailed(f"unknown notification kind: {unknown[0]}", field="preferences")
    async with deps.uow() as uow:
        # One statement: concurrent updates of different kinds both survive.
        result = await uow.session.exec(
            update(User)
            .where(col(User.id) == user_id)
            .values(
                notification_prefs=col(User.notification_prefs).op("||")(
                    literal(dict(changes), type_=JSONB)
                )
            )
            .returning(col(User.notification_prefs))
        )
        row = result.first()
        if row is None:
            raise NotFound("no such user")
        await uow.commit()
    return effective(row[0])


async def email_preferences(deps: Deps, user_id: uuid.UUID) -> dict[str, bool]:
    """Every kind's email choice, read fresh (the viewer's cached row may be older)."""
    async with deps.uow() as uow:
        user = await uow.session.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        return effective(user.notification_prefs)
