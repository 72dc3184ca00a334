"""Every admin field and mutation, refused field by field to a bidder, a seller and an
anonymous caller (FORBIDDEN / NOT_AUTHENTICATED as a JSON GraphQL error), and a refusal
changes nothing: the target account, its flag and the audit log read the same after."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.admin_steps import (
    AUDIT,
    BAN,
    DISMISS,
    FLAGS,
    HOLD,
    UNBAN,
    USERS,
    VOID,
    account_state,
    add_flag,
    audit_rows,
    error_codes,
    flag_status,
    make_admin,
)
from tests.helpers import Account, register

REASON = "looks like shill bidding"


def operations(target: str, flag: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "fraudFlags": (FLAGS, {}),
        "fraudFlags(userId)": (FLAGS, {"userId": target}),
        "adminUsers": (USERS, {"query": ""}),
        "auditLog": (AUDIT, {"entityId": target}),
        "dismissFraudFlag": (DISMISS, {"id": flag, "reason": REASON}),
        "setFraudHold": (HOLD, {"id": target, "held": True, "reason": REASON}),
        "banUser": (BAN, {"id": target, "reason": REASON}),
        "unbanUser": (UNBAN, {"id": target, "reason": REASON}),
        "voidBids": (VOID, {"id": target, "reason": REASON}),
    }


@pytest.fixture
async def target(gql: Any) -> Account:
    return await register(gql)


@pytest.mark.parametrize("who", ["bidder", "seller", "anonymous"])
async def test_admin_fields_refuse_everyone_else(gql, app, target, who):
    caller = None if who == "anonymous" else await register(gql, seller=who == "seller")
    flag = await add_flag(app, target.id)
    before_audit = await audit_rows(app, target.id)
    expected = "NOT_AUTHENTICATED" if caller is None else "FORBIDDEN"

    for name, (document, variables) in operations(target.id, flag).items():
        body = await gql(document, variables, token=caller.token if caller else None)
        assert body["data"] is None, (name, body)
        assert error_codes(body) == [expected], (name, body)

    assert await account_state(app, target.id) == (False, False)
    assert await flag_status(app, flag) == "OPEN"
    assert await audit_rows(app, target.id) == before_audit
    assert await audit_rows(app, flag) == []


async def test_a_users_own_objects_are_not_theirs_to_moderate(gql, app, target):
    """The flagged user cannot dismiss their own flag, lift their own hold or read it."""
    flag = await add_flag(app, target.id)
    admin = await make_admin(gql, app)
    held = await gql(HOLD, {"id": target.id, "held": True, "reason": REASON}, token=admin.token)
    assert held["data"]["setFraudHold"]["errors"] == []

    for document, variables in (
        (DISMISS, {"id": flag, "reason": "not me"}),
        (HOLD, {"id": target.id, "held": False, "reason": "not me"}),
        (FLAGS, {"userId": target.id}),
        (AUDIT, {"entityId": target.id}),
    ):
        body = await gql(document, variables, token=target.token)
        assert error_codes(body) == ["FORBIDDEN"], body
    assert await account_state(app, target.id) == (False, True)
    assert await flag_status(app, flag) == "ACTIONED"  # by the admin's hold, not by them


async def test_admin_only_user_fields_stay_hidden_from_others(gql, app, target):
    """`User.unpaidStrikes` (reached through public fields) stays admins-only."""
    other = await register(gql)
    body = await gql(
        "query($id: ID!) { user(id: $id) { id unpaidStrikes } }",
        {"id": target.id},
        token=other.token,
    )
    assert "FORBIDDEN" in error_codes(body), body
