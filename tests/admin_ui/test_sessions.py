"""The admin app's browser sessions: a new one at sign-in, kept in Redis with an expiry,
and nothing lasting for visitors who never sign in (admin_ui/session.py,
admin_ui/session_store.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import httpx
from fastapi import FastAPI
from nicegui import app as nicegui_app
from nicegui.testing.user import User

from admin_ui.session_store import KEY_PREFIX, prune
from realtime.events import channel
from tests.admin_ui.steps import sign_in
from tests.api.admin_steps import make_admin
from tests.conftest import GQL
from tests.helpers import PUBLISH, create_auction, register


def session_id(user: User) -> str:
    cookie = user.http_client.cookies["session"]
    return str(json.loads(base64.b64decode(cookie.split(".")[0] + "=="))["id"])


async def test_signing_in_starts_a_new_session(ui_user: User, gql: GQL) -> None:
    await ui_user.open("/login")
    before = session_id(ui_user)
    await sign_in(ui_user, await register(gql, seller=True), next_path="/listings")
    assert session_id(ui_user) != before


async def test_a_cookie_planted_before_sign_in_stays_signed_out(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """An attacker takes a signed cookie from /login and plants it in the victim's
    browser; the victim signs in; the attacker's copy is still nobody's."""
    victim = await make_admin(gql, app)
    await ui_user.open("/login")
    planted = dict(ui_user.http_client.cookies)
    await sign_in(ui_user, victim, next_path="/users")
    transport = ui_user.http_client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as attacker:
        for name, value in planted.items():
            attacker.cookies.set(name, value)
        page = await attacker.get("/users", follow_redirects=False)
    assert page.status_code == 307 and "/login" in page.headers["location"]


async def test_a_hand_off_code_works_once(ui_user: User, gql: GQL) -> None:
    await sign_in(ui_user, await register(gql, seller=True), next_path="/listings")
    transport = ui_user.http_client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        for code in ("", "x" * 500, "made-up"):
            page = await other.get(f"/session/start?code={code}", follow_redirects=False)
            assert page.headers["location"].endswith("/login"), code


async def test_the_sessions_tokens_expire_in_redis(ui_user: User, gql: GQL, app: FastAPI) -> None:
    await sign_in(ui_user, await register(gql, seller=True), next_path="/listings")
    await asyncio.sleep(0.2)  # the store writes in the background
    key = KEY_PREFIX + session_id(ui_user)
    ttl = await app.state.redis.ttl(key)
    refresh_ttl = app.state.deps.refresh_ttl.total_seconds()
    assert 0 < ttl <= refresh_ttl


async def test_visitors_who_never_sign_in_cost_no_redis_connection(
    ui_user: User, app: FastAPI
) -> None:
    """NiceGUI's own Redis storage held a client and a pub/sub connection per session:
    a loop of cookie-less requests took one Redis connection each, for good."""
    redis = app.state.redis
    before = len(await redis.client_list())
    transport = ui_user.http_client._transport
    for _ in range(30):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as stranger:
            assert (await stranger.get("/login")).status_code == 200
    await asyncio.sleep(0.3)
    assert len(await redis.client_list()) - before <= 2
    users = nicegui_app.storage._users
    assert len(users) >= 30
    prune()
    assert not [sid for sid, data in users.items() if not data]


async def test_a_page_fetched_but_never_opened_follows_nothing(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """A script fetching a live page over and over must not pile up bus subscriptions:
    a page follows its auction only once its browser connected."""
    seller = await register(gql, seller=True)
    created = await create_auction(gql, seller)
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    await sign_in(ui_user, seller, next_path="/listings")
    name = channel(uuid.UUID(created["id"]))
    before = app.state.bus.subscriber_count(name)
    for _ in range(20):
        page = await ui_user.http_client.get(f"/listings/{created['id']}/live")
        assert page.status_code == 200
    await asyncio.sleep(0.5)
    assert app.state.bus.subscriber_count(name) - before == 0


async def test_a_sign_out_elsewhere_counts_at_the_next_click(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """Another process (here: Redis changed underneath) signed the session out: this
    process's copy is read again when the viewer is next authenticated."""
    await sign_in(ui_user, await register(gql, seller=True), next_path="/listings")
    await asyncio.sleep(0.2)
    await app.state.redis.delete(KEY_PREFIX + session_id(ui_user))
    await ui_user.open("/listings")
    await ui_user.should_see(marker="sign-in")
