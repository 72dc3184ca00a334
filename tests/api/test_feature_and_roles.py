"""setUserRoles and featureAuction (issue 17): admins only (FORBIDDEN / NOT_AUTHENTICATED
for everyone else, nothing changed), one audit row each with before, after and the
reason, the new roles seen by the account's tokens at once, and an admin never removing
their own ADMIN role."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.admin_steps import audit_rows, error_codes, make_admin, payload
from tests.helpers import PUBLISH, Account, create_auction, register

ROLES = """
mutation($id: ID!, $roles: [Role!]!, $reason: String!) {
  setUserRoles(userId: $id, roles: $roles, reason: $reason) {
    user { id roles } errors { code field message }
  }
}"""

FEATURE = """
mutation($id: ID!, $featured: Boolean!, $reason: String!) {
  featureAuction(auctionId: $id, featured: $featured, reason: $reason) {
    auction { id featured status } errors { code field message }
  }
}"""

AUCTION = "query($id: ID!) { auction(id: $id) { id featured } }"
ME = "query { me { user { id roles } } }"
FLAGS = "query { fraudFlags(first: 1) { totalCount } }"
REASON = "trusted seller programme"


async def published(gql: Any, seller: Account) -> str:
    auction = str((await create_auction(gql, seller))["id"])
    body = await gql(PUBLISH, {"id": auction}, token=seller.token)
    assert body["data"]["publishAuction"]["errors"] == [], body
    return auction


@pytest.mark.parametrize("who", ["bidder", "seller", "anonymous"])
async def test_only_admins_set_roles_or_feature(gql, app, who):
    target = await register(gql)
    seller = await register(gql, seller=True)
    auction = await published(gql, seller)
    caller = None if who == "anonymous" else await register(gql, seller=who == "seller")
    expected = "NOT_AUTHENTICATED" if caller is None else "FORBIDDEN"
    token = caller.token if caller else None

    for document, variables in (
        (ROLES, {"id": target.id, "roles": ["SELLER", "ADMIN"], "reason": REASON}),
        (FEATURE, {"id": auction, "featured": True, "reason": REASON}),
    ):
        body = await gql(document, variables, token=token)
        assert body["data"] is None, body
        assert error_codes(body) == [expected], body

    me = await gql(ME, token=target.token)
    assert me["data"]["me"]["user"]["roles"] == ["BIDDER"]
    shown = await gql(AUCTION, {"id": auction})
    assert shown["data"]["auction"]["featured"] is False
    assert await audit_rows(app, target.id) == []
    assert [r["action"] for r in await audit_rows(app, auction)] == [
        "auction.create",
        "auction.publish",
    ]


async def test_an_admin_grants_and_revokes_roles_seen_at_once(gql, app):
    admin = await make_admin(gql, app)
    target = await register(gql)

    granted = payload(
        await gql(
            ROLES, {"id": target.id, "roles": ["ADMIN"], "reason": REASON}, token=admin.token
        ),
        "setUserRoles",
    )
    assert granted["errors"] == [] and granted["user"]["roles"] == ["BIDDER", "ADMIN"]
    # The target's existing token sees the new role at its next request.
    assert (await gql(ME, token=target.token))["data"]["me"]["user"]["roles"] == [
        "BIDDER",
        "ADMIN",
    ]
    assert "errors" not in await gql(FLAGS, token=target.token)

    revoked = payload(
        await gql(
            ROLES,
            {"id": target.id, "roles": ["BIDDER", "SELLER"], "reason": "left the team"},
            token=admin.token,
        ),
        "setUserRoles",
    )
    assert revoked["user"]["roles"] == ["BIDDER", "SELLER"]
    assert error_codes(await gql(FLAGS, token=target.token)) == ["FORBIDDEN"]

    first, second = await audit_rows(app, target.id)
    assert first["action"] == "set_roles" and str(first["actor_id"]) == admin.id
    assert first["details"] == {
        "before": {"roles": ["BIDDER"]},
        "after": {"roles": ["BIDDER", "ADMIN"]},
        "reason": REASON,
    }
    assert second["details"]["before"] == {"roles": ["BIDDER", "ADMIN"]}
    assert second["details"]["after"] == {"roles": ["BIDDER", "SELLER"]}
    assert second["details"]["reason"] == "left the team"


async def test_role_changes_refused_change_nothing(gql, app):
    admin = await make_admin(gql, app)
    target = await register(gql)

    async def codes(variables: dict[str, Any]) -> list[str]:
        body = payload(await gql(ROLES, variables, token=admin.token), "setUserRoles")
        return [e["code"] for e in body["errors"]]

    # An admin never removes their own ADMIN role: Gavel keeps at least one admin.
    assert await codes({"id": admin.id, "roles": ["BIDDER"], "reason": REASON}) == ["FORBIDDEN"]
    assert await codes({"id": target.id, "roles": ["BIDDER"], "reason": REASON}) == [
        "ROLES_UNCHANGED"
    ]
    assert await codes({"id": target.id, "roles": ["SELLER"], "reason": "  "}) == ["INVALID_INPUT"]
    unknown = "00000000-0000-4000-8000-000000000000"
    assert await codes({"id": unknown, "roles": ["SELLER"], "reason": REASON}) == ["NOT_FOUND"]
    assert await codes({"id": "nope", "roles": ["SELLER"], "reason": REASON}) == ["INVALID_ID"]
    assert await audit_rows(app, target.id) == []
    assert await audit_rows(app, admin.id) == []
    me = await gql(ME, token=admin.token)
    assert me["data"]["me"]["user"]["roles"] == ["BIDDER", "ADMIN"]

    # Adding a role to oneself is fine as long as ADMIN stays.
    mine = payload(
        await gql(
            ROLES,
            {"id": admin.id, "roles": ["SELLER", "ADMIN"], "reason": REASON},
            token=admin.token,
        ),
        "setUserRoles",
    )
    assert mine["user"]["roles"] == ["BIDDER", "SELLER", "ADMIN"]


async def test_a_demoted_admin_cannot_act_with_a_token_from_before(gql, app):
    """Two admins demoting each other: the second change is refused, one admin remains."""
    first = await make_admin(gql, app)
    second = await make_admin(gql, app)
    done = payload(
        await gql(ROLES, {"id": second.id, "roles": [], "reason": REASON}, token=first.token),
        "setUserRoles",
    )
    assert done["errors"] == []
    back = await gql(ROLES, {"id": first.id, "roles": [], "reason": REASON}, token=second.token)
    assert error_codes(back) == ["FORBIDDEN"]
    me = await gql(ME, token=first.token)
    assert me["data"]["me"]["user"]["roles"] == ["BIDDER", "ADMIN"]


async def test_an_admin_features_and_unfeatures_an_open_auction(gql, app):
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    auction = await published(gql, seller)

    on = payload(
        await gql(FEATURE, {"id": auction, "featured": True, "reason": REASON}, token=admin.token),
        "featureAuction",
    )
    assert on["errors"] == [] and on["auction"]["featured"] is True
    assert (await gql(AUCTION, {"id": auction}))["data"]["auction"]["featured"] is True
    again = payload(
        await gql(FEATURE, {"id": auction, "featured": True, "reason": REASON}, token=admin.token),
        "featureAuction",
    )
    assert [e["code"] for e in again["errors"]] == ["ALREADY_FEATURED"]

    off = payload(
        await gql(
            FEATURE, {"id": auction, "featured": False, "reason": "ended promo"}, token=admin.token
        ),
        "featureAuction",
    )
    assert off["auction"]["featured"] is False

    rows = [r for r in await audit_rows(app, auction) if r["action"].startswith("auction.")]
    feature, unfeature = rows[-2:]
    assert feature["action"] == "auction.feature" and str(feature["actor_id"]) == admin.id
    assert feature["details"]["before"] == {"featured": False, "featured_at": None}
    assert feature["details"]["after"]["featured"] is True
    assert feature["details"]["after"]["featured_at"] is not None
    assert feature["details"]["reason"] == REASON
    assert unfeature["action"] == "auction.unfeature"
    assert unfeature["details"]["after"] == {"featured": False, "featured_at": None}
    assert unfeature["details"]["reason"] == "ended promo"


async def test_featuring_refuses_drafts_and_closed_auctions(gql, app):
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    draft = str((await create_auction(gql, seller))["id"])
    auction = await published(gql, seller)
    cancelled = await gql(
        'mutation($id: ID!) { cancelAuction(auctionId: $id, reason: "x") { errors { code } } }',
        {"id": auction},
        token=seller.token,
    )
    assert cancelled["data"]["cancelAuction"]["errors"] == []

    async def codes(auction_id: str, featured: bool = True) -> list[str]:
        body = payload(
            await gql(
                FEATURE,
                {"id": auction_id, "featured": featured, "reason": REASON},
                token=admin.token,
            ),
            "featureAuction",
        )
        return [e["code"] for e in body["errors"]]

    assert await codes(draft) == ["NOT_FOUND"]
    assert await codes(auction) == ["AUCTION_NOT_OPEN"]
    assert await codes(auction, featured=False) == ["NOT_FEATURED"]
    assert await codes("not-an-id") == ["INVALID_ID"]
    assert [r["action"] for r in await audit_rows(app, auction)] == [
        "auction.create",
        "auction.publish",
        "auction.cancel",
    ]


async def test_the_admin_apps_reads_and_decisions_refuse_non_admins_called_directly(gql, app):
    """The admin app calls the use cases directly: each checks the role itself, so a
    handler reached by a non-admin (a forged event, a page left open after a demotion)
    changes and reads nothing."""
    from domain.errors import Forbidden
    from services import admin_catalog, featuring, roles
    from storage.tables import Auction, User

    deps = app.state.deps
    seller = await register(gql, seller=True)
    auction_id = await published(gql, seller)
    async with deps.uow() as uow:
        me = await uow.session.get(User, uuid.UUID(seller.id))
        auction = await uow.session.get(Auction, uuid.UUID(auction_id))
    assert me is not None and auction is not None

    attempts = {
        "list_users": admin_catalog.list_users(deps, me, admin_catalog.UserQuery(), 20, 0),
        "list_auctions": admin_catalog.list_auctions(deps, me, admin_catalog.AuctionQuery(), 20, 0),
        "auction_view": admin_catalog.auction_view(deps, me, auction.id),
        "auction_bids": admin_catalog.auction_bids(deps, me, auction, 20, 0),
        "event_log": admin_catalog.event_log(deps, me, auction, 20, 0),
        "user_line": admin_catalog.user_line(deps, me, me.id),
        "set_roles": roles.set_roles(deps, me, me.id, ["ADMIN"], REASON),
        "set_featured": featuring.set_featured(deps, me, auction.id, True, REASON),
    }
    for name, attempt in attempts.items():
        with pytest.raises(Forbidden):
            await attempt
            raise AssertionError(name)
    assert (await gql(ME, token=seller.token))["data"]["me"]["user"]["roles"] == [
        "BIDDER",
        "SELLER",
    ]
    assert (await gql(AUCTION, {"id": auction_id}))["data"]["auction"]["featured"] is False
