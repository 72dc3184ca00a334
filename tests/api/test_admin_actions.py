"""The admins' actions through GraphQL (issue 15 item 4): each works and leaves exactly one
audit row with before, after and the reason; a refused action answers a stable code and
changes nothing (no row, no audit)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import text

from tests.api.admin_steps import (
    BAN,
    DISMISS,
    HOLD,
    UNBAN,
    VOID,
    account_state,
    add_flag,
    audit_rows,
    flag_status,
    make_admin,
    payload,
)
from tests.helpers import BID, LOGIN, PASSWORD, PUBLISH, create_auction, register

ME = "query { me { user { id } } }"
REFRESH = """mutation($t: String!) { refreshToken(refreshToken: $t) {
  accessToken errors { code } } }"""
REASON = "confirmed shill ring"


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["errors"]]


async def live_refresh_tokens(app: Any, user_id: str) -> int:
    async with app.state.engine.connect() as conn:
        count: int = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM refresh_tokens WHERE user_id = :u AND revoked_at IS NULL"
                ),
                {"u": user_id},
            )
        ).scalar_one()
        return count


async def test_a_ban_revokes_refresh_tokens_and_refuses_the_next_request(gql, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    second = await gql(LOGIN, {"email": target.email, "password": PASSWORD})
    other_session = second["data"]["login"]["refreshToken"]
    assert await live_refresh_tokens(app, target.id) == 2

    banned = payload(
        await gql(BAN, {"id": target.id, "reason": REASON}, token=admin.token), "banUser"
    )
    assert banned["errors"] == [] and banned["user"]["banned"] is True

    me = await gql(ME, token=target.token)
    assert me["errors"][0]["extensions"]["code"] == "ACCOUNT_BANNED", me
    assert await live_refresh_tokens(app, target.id) == 0
    [row] = await audit_rows(app, target.id)
    assert row["action"] == "ban_user" and str(row["actor_id"]) == admin.id
    assert row["details"]["before"] == {"banned_at": None}
    assert row["details"]["after"]["banned_at"] is not None
    assert row["details"]["reason"] == REASON
    assert row["details"]["revoked_refresh_tokens"] == 2

    again = payload(
        await gql(BAN, {"id": target.id, "reason": REASON}, token=admin.token), "banUser"
    )
    assert codes(again) == ["ALREADY_BANNED"]

    lifted = payload(
        await gql(UNBAN, {"id": target.id, "reason": "appeal accepted"}, token=admin.token),
        "unbanUser",
    )
    assert lifted["errors"] == [] and lifted["user"]["banned"] is False
    # The sessions the ban ended stay ended, access tokens too (the ban raised the token
    # version): the user logs in again.
    old_access = await gql(ME, token=target.token)
    assert old_access["errors"][0]["extensions"]["code"] == "INVALID_TOKEN", old_access
    for token in (target.refresh, other_session):
        refreshed = (await gql(REFRESH, {"t": token}))["data"]["refreshToken"]
        assert refreshed["accessToken"] is None and refreshed["errors"], refreshed
    rows = await audit_rows(app, target.id)
    assert [r["action"] for r in rows] == ["ban_user", "unban_user"]
    assert rows[1]["details"]["after"] == {"banned_at": None}
    not_banned = payload(
        await gql(UNBAN, {"id": target.id, "reason": "again"}, token=admin.token), "unbanUser"
    )
    assert codes(not_banned) == ["NOT_BANNED"]
    assert len(await audit_rows(app, target.id)) == 2


async def test_a_held_account_bids_again_once_released(gql, app):
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == []
    bidder = await register(gql)

    held = payload(
        await gql(HOLD, {"id": bidder.id, "held": True, "reason": REASON}, token=admin.token),
        "setFraudHold",
    )
    assert held["errors"] == [] and held["user"]["fraudHold"] is True
    variables = {"id": auction["id"], "amount": "100"}
    refused = (await gql(BID, variables, token=bidder.token))["data"]["placeBid"]
    assert refused["reason"] == "FRAUD_HOLD", refused

    released = payload(
        await gql(
            HOLD, {"id": bidder.id, "held": False, "reason": "false alarm"}, token=admin.token
        ),
        "setFraudHold",
    )
    assert released["errors"] == [] and released["user"]["fraudHold"] is False
    accepted = (await gql(BID, variables, token=bidder.token))["data"]["placeBid"]
    assert accepted["__typename"] == "BidAccepted", accepted

    rows = await audit_rows(app, bidder.id)
    assert [r["action"] for r in rows] == ["hold_account", "release_account"]
    assert rows[0]["details"]["before"] == {"fraud_hold": False}
    assert rows[0]["details"]["after"] == {"fraud_hold": True}
    assert rows[1]["details"]["reason"] == "false alarm"
    not_held = payload(
        await gql(HOLD, {"id": bidder.id, "held": False, "reason": "x"}, token=admin.token),
        "setFraudHold",
    )
    assert codes(not_held) == ["NOT_HELD"]


async def test_a_hold_actions_open_flags_and_a_release_dismisses_them(gql, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    first, second = await add_flag(app, target.id), await add_flag(app, target.id, rule="velocity")
    reviewed = await add_flag(app, target.id, status="DISMISSED")

    held = payload(
        await gql(HOLD, {"id": target.id, "held": True, "reason": REASON}, token=admin.token),
        "setFraudHold",
    )
    assert held["user"]["openFlagCount"] == 0
    assert [await flag_status(app, f) for f in (first, second, reviewed)] == [
        "ACTIONED",
        "ACTIONED",
        "DISMISSED",
    ]
    [row] = await audit_rows(app, target.id)
    assert sorted(row["details"]["flags_actioned"]) == sorted([first, second])

    later = await add_flag(app, target.id)
    released = payload(
        await gql(HOLD, {"id": target.id, "held": False, "reason": "cleared"}, token=admin.token),
        "setFraudHold",
    )
    assert released["errors"] == []
    assert await flag_status(app, later) == "DISMISSED"
    assert await flag_status(app, first) == "ACTIONED"
    assert (await audit_rows(app, target.id))[1]["details"]["flags_dismissed"] == [later]


async def test_dismissing_a_flag_once_and_only_an_open_one(gql, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    flag = await add_flag(app, target.id)

    dismissed = payload(
        await gql(DISMISS, {"id": flag, "reason": "normal collector"}, token=admin.token),
        "dismissFraudFlag",
    )
    assert dismissed["errors"] == []
    assert dismissed["flag"]["status"] == "DISMISSED"
    assert dismissed["flag"]["resolvedBy"]["id"] == admin.id
    assert dismissed["flag"]["resolvedAt"] is not None
    [row] = await audit_rows(app, flag)
    assert row["action"] == "dismiss_fraud_flag" and row["entity_type"] == "fraud_flag"
    assert row["details"]["before"]["status"] == "OPEN"
    assert row["details"]["after"]["status"] == "DISMISSED"
    assert row["details"]["reason"] == "normal collector"

    cases = [
        ({"id": flag, "reason": "again"}, "FLAG_NOT_OPEN"),
        ({"id": str(uuid.uuid4()), "reason": "nothing"}, "NOT_FOUND"),
        ({"id": "not-an-id", "reason": "nothing"}, "INVALID_ID"),
        # At most one OPEN flag per (user, rule, auction): two more need two rules.
        (
            {"id": await add_flag(app, target.id, rule="bid_velocity"), "reason": "   "},
            "INVALID_INPUT",
        ),
        (
            {
                "id": await add_flag(app, target.id, rule="new_account_high_value"),
                "reason": "x" * 501,
            },
            "INVALID_INPUT",
        ),
    ]
    for variables, code in cases:
        body = await gql(DISMISS, variables, token=admin.token)
        result = payload(body, "dismissFraudFlag")
        assert codes(result) == [code], (variables, result)
        assert result["flag"] is None
        if code == "INVALID_INPUT":
            assert await flag_status(app, variables["id"]) == "OPEN"
            assert result["errors"][0]["field"] == "reason"
    assert len(await audit_rows(app, flag)) == 1


async def test_admins_cannot_act_on_themselves_nor_on_another_admin(gql, app):
    admin = await make_admin(gql, app)
    colleague = await make_admin(gql, app)
    for target in (admin, colleague):
        for document, variables, field in (
            (BAN, {"id": target.id, "reason": REASON}, "banUser"),
            (HOLD, {"id": target.id, "held": True, "reason": REASON}, "setFraudHold"),
        ):
            result = payload(await gql(document, variables, token=admin.token), field)
            assert codes(result) == ["FORBIDDEN"], result
            assert result["errors"][0]["field"] == "userId"
        assert await account_state(app, target.id) == (False, False)
        assert await audit_rows(app, target.id) == []
    unknown = payload(
        await gql(BAN, {"id": str(uuid.uuid4()), "reason": REASON}, token=admin.token), "banUser"
    )
    assert codes(unknown) == ["NOT_FOUND"]
    malformed = payload(
        await gql(BAN, {"id": "42", "reason": REASON}, token=admin.token), "banUser"
    )
    assert codes(malformed) == ["INVALID_ID"]


async def test_voiding_a_bidders_bids_recomputes_the_auction(gql, app):
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    honest, shill = await register(gql), await register(gql)
    for bidder, amount in ((honest, "100"), (shill, "150")):
        placed = await gql(BID, {"id": auction["id"], "amount": amount}, token=bidder.token)
        assert placed["data"]["placeBid"]["__typename"] == "BidAccepted", placed

    result = payload(
        await gql(
            VOID, {"id": shill.id, "auctionId": auction["id"], "reason": REASON}, token=admin.token
        ),
        "voidBids",
    )
    assert result["errors"] == []
    [done] = result["auctions"]
    assert done["auctionId"] == auction["id"] and done["voidedSequences"] == [2]
    assert done["before"] == {
        "price": {"amount": "150.00", "currency": "USD"},
        "leaderId": shill.id,
        "bidCount": 2,
    }
    assert done["after"]["leaderId"] == honest.id and done["after"]["bidCount"] == 1
    assert done["after"]["price"] == {"amount": "100.00", "currency": "USD"}
    [row] = [r for r in await audit_rows(app, auction["id"]) if r["action"] == "void_bids"]
    assert str(row["actor_id"]) == admin.id and row["details"]["reason"] == REASON

    # Every active auction they bid on: nothing left to void, NO_BIDS (whether or not the
    # persister has marked the bids void yet) and nothing changes.
    again = payload(
        await gql(VOID, {"id": shill.id, "reason": REASON}, token=admin.token), "voidBids"
    )
    assert codes(again) == ["NO_BIDS"] and again["auctions"] == []


async def test_void_bids_refusals_change_nothing(gql, app):
    admin = await make_admin(gql, app)
    bidder = await register(gql)
    for variables, code in (
        ({"id": "nope", "reason": REASON}, "INVALID_ID"),
        ({"id": bidder.id, "auctionId": "nope", "reason": REASON}, "INVALID_ID"),
        ({"id": bidder.id, "reason": ""}, "INVALID_INPUT"),
        ({"id": str(uuid.uuid4()), "reason": REASON}, "NOT_FOUND"),
        ({"id": bidder.id, "auctionId": str(uuid.uuid4()), "reason": REASON}, "NOT_FOUND"),
        ({"id": admin.id, "reason": REASON}, "FORBIDDEN"),
    ):
        result = payload(await gql(VOID, variables, token=admin.token), "voidBids")
        assert codes(result) == [code], (variables, result)
        assert result["auctions"] == []
    assert await audit_rows(app, bidder.id) == []


async def test_two_admins_deciding_at_once_decide_once(gql, app):
    first, second = await make_admin(gql, app), await make_admin(gql, app)
    target = await register(gql)
    flag = await add_flag(app, target.id)

    async def dismiss(admin: Any) -> dict[str, Any]:
        body = await gql(DISMISS, {"id": flag, "reason": "duplicate"}, token=admin.token)
        return payload(body, "dismissFraudFlag")

    async def ban(admin: Any) -> dict[str, Any]:
        body = await gql(BAN, {"id": target.id, "reason": "ring"}, token=admin.token)
        return payload(body, "banUser")

    for action, refused in ((dismiss, "FLAG_NOT_OPEN"), (ban, "ALREADY_BANNED")):
        results = await asyncio.gather(action(first), action(second))
        assert sorted(codes(r) for r in results) == [[], [refused]], results
    assert len(await audit_rows(app, flag)) == 1
    assert [r["action"] for r in await audit_rows(app, target.id)] == ["ban_user"]
