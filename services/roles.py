"""An admin changes an account's roles (issue 17; docs/admin-api.md "Mutations").

`set_roles(deps, actor, user_id, roles, reason)` sets the account's roles to `roles` plus
BIDDER, which every account keeps (an account exists to bid; SELLER and ADMIN are what an
admin grants or revokes). Rules:

- admins only (FORBIDDEN), with a reason (INVALID_INPUT, field `reason`: 1-500
  characters, as every moderation decision);
- an admin never removes their own ADMIN role (FORBIDDEN, field `roles`): the actor stays
  an admin, so Gavel always keeps at least one. Two admins demoting each other at the same
  moment cannot leave none either: the actor's own row is locked and re-read with the
  target's, and an actor who lost ADMIN meanwhile is refused (FORBIDDEN);
- roles that would not change are refused with ROLES_UNCHANGED and write nothing;
- NOT_FOUND (field `userId`) for an unknown account.

The change commits with one `set_roles` audit row (before/after roles, reason) through
`accounts.commit_account`, which rewrites the account's state in Redis: every token of
the account sees the new roles at its next request (an admin who loses ADMIN is refused
admin fields and pages at once; the admin app re-reads its viewer on every action).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from domain.enums import Role
from domain.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from services.accounts import commit_account, lock_account
from services.audit import audit_row
from services.deps import Deps
from services.moderation import check_reason, require_admin
from storage.tables import User


def canonical(roles: Iterable[Role | str]) -> list[str]:
    """`roles` plus BIDDER, in the canonical order (BIDDER, SELLER, ADMIN). An unknown
    role raises ValidationFailed (INVALID_INPUT, field `roles`)."""
    try:
        wanted = {Role(r).value for r in roles} | {Role.BIDDER.value}
    except ValueError:
        raise ValidationFailed("roles are BIDDER, SELLER and ADMIN", field="roles") from None
    return [r.value for r in Role if r.value in wanted]


async def set_roles(
    deps: Deps, actor: User, user_id: uuid.UUID, roles: Iterable[Role | str], reason: str
) -> User:
    """Set the account's roles (see the module's docstring); returns the updated row.
    Errors: FORBIDDEN, INVALID_INPUT, NOT_FOUND, ROLES_UNCHANGED."""
    require_admin(actor)
    why = check_reason(reason)
    after = canonical(roles)
    if user_id == actor.id and Role.ADMIN.value not in after:
        raise Forbidden("admins cannot remove their own ADMIN role", field="roles")
    async with deps.uow() as uow:
        # Both rows, in one order (by id), so two admins' changes never deadlock.
        locked: dict[uuid.UUID, User] = {}
        for row_id in sorted({user_id, actor.id}):
            row = await lock_account(uow, row_id)
            if row is not None:
                locked[row_id] = row
        me = locked.get(actor.id)
        if me is None or Role.ADMIN.value not in me.roles:
            raise Forbidden("admins only (your ADMIN role was removed)")
        user = locked.get(user_id)
        if user is None:
            raise NotFound("no such user", field="userId")
        before = list(user.roles)
        if before == after:
            raise InvalidState(
                "the account already has these roles", code="ROLES_UNCHANGED", field="roles"
            )
        now = deps.clock()
        user.roles = after
        user.updated_at = now
        uow.session.add(
            audit_row(
                actor.id,
                "set_roles",
                "user",
                user.id,
                before={"roles": before},
                after={"roles": after},
                reason=why,
                at=now,
            )
        )
        await commit_account(deps, uow, user)
        return user
