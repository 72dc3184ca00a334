"""The admins' reads: the fraud-flag queue with its explained signals, user search, and
the audit log newest first; filters, keyset paging and stable codes for bad input."""

from __future__ import annotations

import uuid

from tests.api.admin_steps import (
    AUDIT,
    BAN,
    FLAGS,
    HOLD,
    UNBAN,
    USERS,
    add_flag,
    error_codes,
    make_admin,
    payload,
)
from tests.helpers import create_auction, register


async def test_the_flag_queue_shows_each_flag_with_its_signals(gql, app):
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    target = await register(gql)
    old = await add_flag(app, target.id, status="DISMISSED", rule="velocity")
    new = await add_flag(app, target.id, auction_id=auction["id"], score=91)

    mine = payload(await gql(FLAGS, {"userId": target.id}, token=admin.token), "fraudFlags")
    assert mine["totalCount"] == 2
    assert [e["node"]["id"] for e in mine["edges"]] == [new, old]  # newest first
    node = mine["edges"][0]["node"]
    assert (node["rule"], node["score"], node["status"]) == ("shill_bidding", 91, "OPEN")
    assert node["user"]["id"] == target.id and node["auction"]["id"] == auction["id"]
    assert node["signals"][0] == {
        "name": "bidder_tendency",
        "value": 0.9,
        "weight": 30.0,
        "explanation": "90% of their bids go to one seller",
        "evidence": None,
    }
    assert node["signals"][1]["name"] == "winning_ratio"

    open_only = payload(
        await gql(FLAGS, {"userId": target.id, "status": "OPEN"}, token=admin.token), "fraudFlags"
    )
    assert [e["node"]["id"] for e in open_only["edges"]] == [new]

    page = payload(
        await gql(FLAGS, {"userId": target.id, "first": 1}, token=admin.token), "fraudFlags"
    )
    assert page["pageInfo"]["hasNextPage"] is True
    rest = payload(
        await gql(
            FLAGS,
            {"userId": target.id, "first": 1, "after": page["pageInfo"]["endCursor"]},
            token=admin.token,
        ),
        "fraudFlags",
    )
    assert [e["node"]["id"] for e in rest["edges"]] == [old]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_bad_paging_and_ids_answer_stable_codes(gql, app):
    admin = await make_admin(gql, app)
    for document, variables, code in (
        (FLAGS, {"after": "garbage"}, "INVALID_CURSOR"),
        (FLAGS, {"first": 101}, "INVALID_PAGE_SIZE"),
        (FLAGS, {"first": -1}, "INVALID_PAGE_SIZE"),
        (FLAGS, {"userId": "nope"}, "INVALID_ID"),
        (USERS, {"after": "garbage"}, "INVALID_CURSOR"),
        (USERS, {"query": "x" * 300}, "INVALID_INPUT"),
        (AUDIT, {"after": "garbage"}, "INVALID_CURSOR"),
        (AUDIT, {"after": "YXVkaXQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"}, "INVALID_CURSOR"),
        (AUDIT, {"actorId": "nope"}, "INVALID_ID"),
        (AUDIT, {"first": 1000}, "INVALID_PAGE_SIZE"),
    ):
        body = await gql(document, variables, token=admin.token)
        assert error_codes(body) == [code], (variables, body)


async def test_user_search_matches_a_username_or_email_prefix(gql, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    await add_flag(app, target.id)
    await add_flag(app, target.id, status="ACTIONED")

    for query in (target.username.upper(), target.username[:8], target.email[:11]):
        found = payload(await gql(USERS, {"query": query}, token=admin.token), "adminUsers")
        assert target.id in [e["node"]["id"] for e in found["edges"]], query
    node = next(
        e["node"]
        for e in payload(
            await gql(USERS, {"query": target.username}, token=admin.token), "adminUsers"
        )["edges"]
    )
    assert node == {
        "id": target.id,
        "username": target.username,
        "email": target.email,
        "roles": ["BIDDER"],
        "banned": False,
        "fraudHold": False,
        "reputationScore": node["reputationScore"],
        "unpaidStrikes": 0,
        "disputesLost": 0,
        "openFlagCount": 1,
        "user": {"id": target.id},
    }
    # LIKE's wildcards are plain characters in a query.
    for wildcard in ("%", "_", "u%"):
        none = payload(await gql(USERS, {"query": wildcard}, token=admin.token), "adminUsers")
        assert none["totalCount"] == 0, wildcard


async def test_the_audit_log_newest_first_with_exact_filters(gql, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    for document, extra in ((BAN, {}), (UNBAN, {}), (HOLD, {"held": True})):
        body = await gql(document, {"id": target.id, "reason": "r", **extra}, token=admin.token)
        assert "errors" not in body, body

    log = payload(await gql(AUDIT, {"entityId": target.id}, token=admin.token), "auditLog")
    actions = [e["node"]["action"] for e in log["edges"]]
    assert actions == ["hold_account", "unban_user", "ban_user"]
    newest = log["edges"][0]["node"]
    assert newest["actor"]["id"] == admin.id and newest["entityType"] == "user"
    assert newest["before"] == {"fraud_hold": False} and newest["reason"] == "r"
    assert newest["after"] == {"fraud_hold": True}
    oldest = log["edges"][2]["node"]
    assert oldest["before"] == {"banned_at": None} and oldest["after"]["banned_at"] is not None

    unbans = payload(
        await gql(AUDIT, {"entityId": target.id, "action": "unban_user"}, token=admin.token),
        "auditLog",
    )
    assert unbans["totalCount"] == 1
    by_actor = payload(await gql(AUDIT, {"actorId": admin.id}, token=admin.token), "auditLog")
    assert by_actor["totalCount"] == 3
    nobody = payload(
        await gql(AUDIT, {"actorId": str(uuid.uuid4())}, token=admin.token), "auditLog"
    )
    assert nobody["totalCount"] == 0

    first = payload(
        await gql(AUDIT, {"entityId": target.id, "first": 2}, token=admin.token), "auditLog"
    )
    after = first["pageInfo"]["endCursor"]
    rest = payload(
        await gql(AUDIT, {"entityId": target.id, "first": 2, "after": after}, token=admin.token),
        "auditLog",
    )
    assert [e["node"]["id"] for e in first["edges"] + rest["edges"]] == [
        e["node"]["id"] for e in log["edges"]
    ]
    assert rest["pageInfo"]["hasNextPage"] is False
