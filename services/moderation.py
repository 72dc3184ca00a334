"""Account holds and bans (SPEC section 8: fraud holds; the admin queue bans accounts).

A ban refuses every request of the account (`ACCOUNT_BANNED`; sockets close with 4403); a
fraud hold refuses its bids (`FRAUD_HOLD`). Both take effect through the account's state
in Redis (realtime/account_states.py), written in the same step as the row
(`accounts.commit_account`): other app processes see them within their user cache's TTL.
"""

from __future__ import annotations

import uuid

from domain.errors import NotFound
from services.accounts import commit_account
from services.deps import Deps
from storage.tables import AuditLog, User


async def set_banned(
    deps: Deps, user_id: uuid.UUID, banned: bool, *, actor_id: uuid.UUID | None = None
) -> User:
    """Ban (or unban) an account. Raises NotFound for an unknown id."""
    async with deps.uow() as uow:
        user = await uow.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("no such user", field="userId")
        if (user.banned_at is not None) != banned:
            user.banned_at = deps.clock() if banned else None
            user.updated_at = deps.clock()
            uow.session.add(_audit(actor_id, "ban" if banned else "unban", user.id))
            await commit_account(deps, uow, user)
        return user


async def set_fraud_hold(
    deps: Deps, user_id: uuid.UUID, held: bool, *, actor_id: uuid.UUID | None = None
) -> User:
    """Put an account on fraud hold (or release it). Raises NotFound for an unknown id."""
    async with deps.uow() as uow:
        user = await uow.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("no such user", field="userId")
        if user.fraud_hold != held:
            user.fraud_hold = held
            user.updated_at = deps.clock()
            uow.session.add(_audit(actor_id, "fraud_hold" if held else "fraud_release", user.id))
            await commit_account(deps, uow, user)
        return user


def _audit(actor_id: uuid.UUID | None, action: str, user_id: uuid.UUID) -> AuditLog:
    return AuditLog(actor_id=actor_id, action=action, entity_type="user", entity_id=str(user_id))
