"""Account states in Redis (realtime/account_states.py): every change writes them in the
same step, so another app process (its own user cache, the same Redis) sees roles, bans,
holds and verification without reading PostgreSQL; a lost state is rebuilt from it."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI

from domain.errors import Forbidden
from realtime.account_states import key
from seeds.loader import forget_account_states
from services import accounts, moderation
from services.accounts import TokenRejected
from services.deps import Deps
from services.user_cache import UserCache
from storage.tables import User
from tests.helpers import BECOME_SELLER, BID, create_auction, register

ME = "query { me { user { roles displayName } emailVerified } }"
VERIFY = "mutation($t: String!) { verifyEmail(token: $t) { ok errors { code } } }"
PUBLISH = "mutation($id: ID!) { publishAuction(auctionId: $id) { errors { code } } }"


def other_process(app: FastAPI) -> Deps:
    """The same Redis and PostgreSQL, a user cache of its own: as another app process."""
    deps: Deps = app.state.deps
    return dataclasses.replace(deps, user_cache=UserCache())


async def state_of(app: FastAPI, user_id: str) -> User | None:
    result: User | None = await app.state.deps.account_states.get(uuid.UUID(user_id))
    return result


async def test_changes_reach_another_process_through_the_account_state(gql, app):
    account = await register(gql)
    assert (await state_of(app, account.id)).roles == ["BIDDER"]  # type: ignore[union-attr]

    await gql(BECOME_SELLER, token=account.token)
    profile = 'mutation { updateProfile(displayName: "Ada") { ok } }'
    await gql(profile, token=account.token)
    mail = next(b for to, _, b in reversed(app.state.deps.mailer.sent) if to == account.email)
    verified = await gql(VERIFY, {"t": mail.split('verifyEmail(token: "')[1].split('"')[0]})
    assert verified["data"]["verifyEmail"]["ok"]

    seen = await accounts.user_for_access_token(other_process(app), account.token)
    assert "SELLER" in seen.roles
    assert seen.display_name == "Ada"
    assert seen.email_verified_at is not None


async def test_a_ban_refuses_the_account_in_another_process(gql, app):
    account = await register(gql)
    elsewhere = other_process(app)
    await accounts.user_for_access_token(elsewhere, account.token)  # cached there, too

    await moderation.set_banned(app.state.deps, uuid.UUID(account.id), True)

    with pytest.raises(Forbidden):
        await accounts.user_for_access_token(other_process(app), account.token)
    body = await gql(ME, token=account.token)
    assert body["errors"][0]["extensions"]["code"] == "ACCOUNT_BANNED", body

    await moderation.set_banned(app.state.deps, uuid.UUID(account.id), False)
    # The ban raised the token version: the token issued before it stays revoked.
    with pytest.raises(TokenRejected):
        await accounts.user_for_access_token(other_process(app), account.token)
    assert (await gql(ME, token=account.token))["data"]["me"] is None


async def test_a_fraud_hold_refuses_bids_at_once(gql, app):
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == []
    bidder = await register(gql)

    await moderation.set_fraud_hold(app.state.deps, uuid.UUID(bidder.id), True)

    variables = {"id": auction["id"], "amount": "100"}
    refused = (await gql(BID, variables, token=bidder.token))["data"]["placeBid"]
    assert refused["reason"] == "FRAUD_HOLD", refused
    await moderation.set_fraud_hold(app.state.deps, uuid.UUID(bidder.id), False)
    accepted = (await gql(BID, variables, token=bidder.token))["data"]["placeBid"]
    assert accepted["__typename"] == "BidAccepted", accepted


async def test_a_lost_state_is_rebuilt_from_postgresql(gql, app):
    account = await register(gql, seller=True)
    redis = app.state.redis
    assert await redis.delete(key(account.id)) == 1

    roles = await accounts.user_for_access_token(other_process(app), account.token)
    assert "SELLER" in roles.roles
    assert (await state_of(app, account.id)).roles == roles.roles  # type: ignore[union-attr]


async def test_an_older_state_never_replaces_a_newer_one(gql, app):
    account = await register(gql)
    states = app.state.deps.account_states
    current = await state_of(app, account.id)
    assert current is not None
    newer = current.model_copy(update={"roles": ["BIDDER", "SELLER"]})
    newer.updated_at = current.updated_at + timedelta(seconds=1)

    assert await states.put(newer)
    assert not await states.put(current)  # e.g. a rebuild from a row read before the change
    assert (await state_of(app, account.id)).roles == ["BIDDER", "SELLER"]  # type: ignore[union-attr]


async def test_the_state_keeps_no_secrets(gql, app):
    account = await register(gql)
    raw = await app.state.redis.hget(key(account.id), "s")
    assert "password" not in raw and "mfa_secret" not in raw and "argon2" not in raw


async def test_seeding_forgets_the_seeded_users_states(gql, app, settings):
    account = await register(gql)
    await forget_account_states(settings.redis_url, [uuid.UUID(account.id)])
    assert await app.state.redis.exists(key(account.id)) == 0
