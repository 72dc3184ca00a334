"""The Users page (admins): search, filter and sort in PostgreSQL, the account card, and
the decisions on it (hold, ban, roles) through the use cases, with their refusals in
words; nobody else sees it or acts through it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing.user import User

from tests.admin_ui.hostile import (
    FORGED_REQUESTS,
    ban_out_of_band,
    crashes,
    eventually,
    trigger,
)
from tests.admin_ui.hostile import table_rows as rows
from tests.admin_ui.steps import sign_in
from tests.api.admin_steps import account_state, add_flag, audit_rows, make_admin
from tests.conftest import GQL
from tests.helpers import Account, register

REASON = "shill ring around one seller"
ME = "query { me { user { roles } } }"


def table_rows(user: User, marker: str) -> list[dict[str, Any]]:
    [table] = user.find(marker=marker).elements
    assert isinstance(table, ui.table)
    return list(table.rows)


def usernames(user: User) -> list[str]:
    return [row["username"] for row in table_rows(user, "users-table")]


async def open_card(user: User, account: Account) -> None:
    """Search for the account and open its card from its row."""
    user.find(marker="users-search").clear().type(account.username)
    user.find(marker="users-go").click()
    await user.should_see(marker="users-total")
    for _ in range(200):
        if usernames(user) == [account.username]:
            break
        await _tick()
    assert usernames(user) == [account.username]
    user.find(marker="users-table").trigger("rowClick", [{}, table_rows(user, "users-table")[0], 0])
    await user.should_see(marker="card-username", retries=50)


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_an_admin_finds_an_account_and_sees_its_standing(ui_user: User, gql: GQL, app):
    admin = await make_admin(gql, app)
    flagged = await register(gql)
    await add_flag(app, flagged.id)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)

    await open_card(ui_user, flagged)
    [row] = table_rows(ui_user, "users-table")
    assert row["flags"] == 1 and row["standing"] == "1 open flag"
    assert row["roles"] == "Bidder" and row["reputation"] == "no ratings"
    await ui_user.should_see("1 open flag")

    # A standing filter is applied in PostgreSQL: the flagged account is among the
    # flagged ones and not among those in good standing.
    ui_user.find(marker="users-state").click()
    ui_user.find("In good standing").click()
    [table] = ui_user.find(marker="users-table").elements
    for _ in range(200):
        if flagged.username not in usernames(ui_user):
            break
        await _tick()
    assert flagged.username not in usernames(ui_user)
    ui_user.find(marker="users-state").click()
    ui_user.find("With open fraud flags").click()
    for _ in range(200):
        if usernames(ui_user) == [flagged.username]:
            break
        await _tick()
    assert usernames(ui_user) == [flagged.username]
    assert isinstance(table, ui.table)


async def test_sorting_and_paging_happen_on_the_server(ui_user: User, gql: GQL, app):
    admin = await make_admin(gql, app)
    prefix_accounts = [await register(gql) for _ in range(3)]
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    [table] = ui_user.find(marker="users-table").elements
    assert isinstance(table, ui.table)
    total = table.pagination["rowsNumber"]
    assert total >= 4 and len(table.rows) == min(total, 20)

    ui_user.find(marker="users-table").trigger(
        "request",
        {"pagination": {"page": 1, "rowsPerPage": 10, "sortBy": "username", "descending": False}},
    )
    for _ in range(200):
        if table.pagination.get("sortBy") == "username":
            break
        await _tick()
    names = [row["username"] for row in table.rows]
    assert names == sorted(names, key=str.lower) and len(names) == min(total, 10)
    assert table.pagination["rowsPerPage"] == 10
    newest = {a.username for a in prefix_accounts}
    assert newest  # registered above: present somewhere in the pages


async def test_an_admin_holds_and_bans_with_a_reason(ui_user: User, gql: GQL, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    await add_flag(app, target.id)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    await open_card(ui_user, target)

    # No reason: refused in words, nothing changes.
    ui_user.find(marker="hold").click()
    await ui_user.should_see("Give a reason of 1 to 500 characters.")
    assert await account_state(app, target.id) == (False, False)

    ui_user.find(marker="reason").type(REASON)
    ui_user.find(marker="hold").click()
    await ui_user.should_see(marker="release")
    assert await account_state(app, target.id) == (False, True)
    [row] = table_rows(ui_user, "users-table")
    assert row["standing"] == "On hold" and row["flags"] == 0

    ui_user.find(marker="reason").type(REASON)
    ui_user.find(marker="ban").click()
    ui_user.find(marker="confirm-ban").click()
    await ui_user.should_see(marker="unban")
    assert await account_state(app, target.id) == (True, True)
    actions = [r["action"] for r in await audit_rows(app, target.id)]
    assert actions == ["hold_account", "ban_user"]
    assert all(r["details"]["reason"] == REASON for r in await audit_rows(app, target.id))


async def test_a_ban_asks_once_more_naming_the_account_and_what_it_does(
    ui_user: User, gql: GQL, app
):
    """Ban is not taken at the first click: the dialog names the account and says what a
    ban does; "Keep the account" changes nothing."""
    admin = await make_admin(gql, app)
    target = await register(gql)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    await open_card(ui_user, target)

    ui_user.find(marker="reason").type(REASON)
    ui_user.find(marker="ban").click()
    with ui_user.scope(marker="ban-confirm"):
        await ui_user.should_see(f"Ban {target.username}?")
        await ui_user.should_see("live bids on active auctions are voided", retries=5)
    assert await account_state(app, target.id) == (False, False)
    ui_user.find(marker="keep-account").click()
    await asyncio.sleep(0.2)
    assert await account_state(app, target.id) == (False, False)
    assert await audit_rows(app, target.id) == []

    ui_user.find(marker="ban").click()
    ui_user.find(marker="confirm-ban").click()
    await ui_user.should_see(marker="unban")
    assert await account_state(app, target.id) == (True, False)


async def test_an_admin_changes_roles_and_cannot_drop_their_own_admin(ui_user: User, gql: GQL, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    await open_card(ui_user, target)

    ui_user.find(marker="reason").type("joins the seller programme")
    ui_user.find(marker="role-seller").click()
    ui_user.find(marker="save-roles").click()
    await ui_user.should_see("Roles saved: they apply to the account's next request.")
    me = await gql(ME, token=target.token)
    assert me["data"]["me"]["user"]["roles"] == ["BIDDER", "SELLER"]
    [row] = await audit_rows(app, target.id)
    assert row["action"] == "set_roles" and row["details"]["reason"] == "joins the seller programme"

    await open_card(ui_user, admin)
    await ui_user.should_see("This is your own account: other admins decide on it.")
    ui_user.find(marker="reason").type("oops")
    ui_user.find(marker="role-admin").click()
    ui_user.find(marker="save-roles").click()
    await ui_user.should_see("Admins cannot remove their own ADMIN role.")
    me = await gql(ME, token=admin.token)
    assert me["data"]["me"]["user"]["roles"] == ["BIDDER", "ADMIN"]


async def test_an_admin_demoted_meanwhile_is_refused_at_the_next_click(
    ui_user: User, gql: GQL, app
):
    """The page was open while another admin removed this admin's role: the click is
    re-authenticated and refused; nothing changes."""
    admin = await make_admin(gql, app)
    other = await make_admin(gql, app)
    target = await register(gql)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    await open_card(ui_user, target)
    demote = await gql(
        """mutation($id: ID!) { setUserRoles(userId: $id, roles: [], reason: "rotation") {
             errors { code } } }""",
        {"id": admin.id},
        token=other.token,
    )
    assert demote["data"]["setUserRoles"]["errors"] == []

    ui_user.find(marker="reason").type(REASON)
    ui_user.find(marker="ban").click()
    ui_user.find(marker="confirm-ban").click()
    await ui_user.should_see("Your account may not do this.")
    assert await account_state(app, target.id) == (False, False)


@pytest.mark.parametrize("who", ["bidder", "seller"])
async def test_others_get_not_for_this_account(ui_user: User, gql: GQL, who: str):
    account = await register(gql, seller=who == "seller")
    await sign_in(ui_user, account, next_path="/users")
    await ui_user.should_see("Not for this account")
    await ui_user.should_not_see(marker="users-table")


async def test_anonymous_is_sent_to_sign_in(ui_user: User):
    await ui_user.open("/users")
    await ui_user.should_see(marker="sign-in")
    await ui_user.should_not_see(marker="users-table")


# -- an open page outlives its sign-in: every read is re-authenticated ----------------


async def _search_for_newcomer(user: User, gql: GQL) -> Account:
    """Register an account now and search for it on the open /users page."""
    newcomer = await register(gql)
    user.find(marker="users-search").clear().type(newcomer.username)
    user.find(marker="users-go").click()
    return newcomer


async def _lists(user: User, newcomer: Account) -> bool:
    return await eventually(
        lambda: any(r["username"] == newcomer.username for r in rows(user, "users-table"))
    )


async def test_an_open_users_page_reads_nothing_once_the_admin_is_banned(
    ui_user: User, gql: GQL, app
):
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    await ban_out_of_band(app, admin.id)

    newcomer = await _search_for_newcomer(ui_user, gql)
    assert not await _lists(ui_user, newcomer), "a banned admin's open page read new accounts"


async def test_an_open_users_page_reads_nothing_once_the_admin_is_demoted(
    ui_user: User, gql: GQL, app
):
    admin = await make_admin(gql, app)
    other = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    demote = await gql(
        """mutation($id: ID!) { setUserRoles(userId: $id, roles: [], reason: "rotation") {
             errors { code } } }""",
        {"id": admin.id},
        token=other.token,
    )
    assert demote["data"]["setUserRoles"]["errors"] == []

    newcomer = await _search_for_newcomer(ui_user, gql)
    await ui_user.should_see("Your account may not do this.")
    assert not await _lists(ui_user, newcomer), "a demoted admin's open page read new accounts"


async def test_an_open_users_page_reads_nothing_after_sign_out(ui_user: User, gql: GQL, app):
    from admin_ui import session

    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    client = ui_user.client
    assert client is not None
    with client:  # as another tab of this browser would
        await session.sign_out()

    newcomer = await _search_for_newcomer(ui_user, gql)
    assert not await _lists(ui_user, newcomer), "a signed-out page read new accounts"
    assert await eventually(lambda: ui_user.back_history[-1].startswith("/login"))


async def test_an_open_users_page_reads_nothing_after_a_password_change(
    ui_user: User, gql: GQL, app
):
    from tests.api.test_password_change import CHANGE, NEW_PASSWORD
    from tests.helpers import PASSWORD

    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    changed = await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}, token=admin.token)
    assert changed["data"]["changePassword"]["errors"] == [], changed
    app.state.deps.user_cache.forget(uuid.UUID(admin.id))  # as its TTL would, at once

    newcomer = await _search_for_newcomer(ui_user, gql)
    assert not await _lists(ui_user, newcomer), "the old session's open page read new accounts"


# -- hostile input: refused in words, never a traceback ---------------------------------


async def test_forged_table_requests_are_clamped_not_crashes(
    ui_user: User, gql: GQL, app, caplog: pytest.LogCaptureFixture
):
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    for forged in FORGED_REQUESTS:
        trigger(ui_user, "users-table", "request", forged)
        await asyncio.sleep(0.2)
    assert crashes(caplog) == []
    [table] = ui_user.find(marker="users-table").elements
    assert isinstance(table, ui.table)
    assert table.pagination["rowsPerPage"] in (10, 20, 50, 100)
    assert 1 <= table.pagination["page"] <= 1_000_000


async def test_a_nul_byte_in_the_search_is_refused_in_words(
    ui_user: User, gql: GQL, app, caplog: pytest.LogCaptureFixture
):
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-go", retries=50)
    ui_user.find(marker="users-search").type("ab\x00c")
    ui_user.find(marker="users-go").click()
    await ui_user.should_see("Query must not contain NUL")
    assert crashes(caplog) == []


async def test_on_a_phone_the_users_table_says_it_scrolls(ui_user: User, gql: GQL, app):
    """Only two of the table's columns fit a 390-px phone: a hint, shown below the `sm`
    breakpoint only, says the table scrolls sideways and a tap opens the account."""
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/users")
    await ui_user.should_see(marker="users-table", retries=50)
    [hint] = ui_user.find(marker="table-scroll-hint").elements
    assert "sm:hidden" in hint.classes
    assert getattr(hint, "text", "") == (
        "Swipe the table sideways to see every column; tap a row to open it."
    )
