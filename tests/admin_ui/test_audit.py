"""The audit log page (admins): rows newest first with who, what, when (the viewer's zone)
and why, their before/after readable, exact filters, and paging by the log's cursors;
nobody else sees it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing.user import User

from admin_ui.pages.audit import changed_fields, facts
from tests.admin_ui.hostile import ban_out_of_band, crashes
from tests.admin_ui.hostile import eventually as eventually_true
from tests.admin_ui.steps import sign_in
from tests.api.admin_steps import BAN, HOLD, make_admin
from tests.conftest import GQL
from tests.helpers import register

REASON = "confirmed shill ring"


def titles(user: User) -> list[str]:
    """The rows' titles in page order (`find` answers a set)."""
    try:
        rows = user.find(marker="audit-row").elements
    except AssertionError:  # none drawn yet
        return []
    return [
        str(e.props.get("label", ""))
        for e in sorted(rows, key=lambda e: e.id)
        if isinstance(e, ui.expansion)
    ]


async def eventually(check: Any, *, tries: int = 60) -> None:
    for _ in range(tries):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


async def test_an_admin_reads_one_accounts_trail(ui_user: User, gql: GQL, app):
    admin = await make_admin(gql, app)
    target = await register(gql)
    held = await gql(HOLD, {"id": target.id, "held": True, "reason": REASON}, token=admin.token)
    assert held["data"]["setFraudHold"]["errors"] == []
    banned = await gql(BAN, {"id": target.id, "reason": "and banned"}, token=admin.token)
    assert banned["data"]["banUser"]["errors"] == []

    await sign_in(ui_user, admin, next_path=f"/audit?entity={target.id}")
    await ui_user.should_see(marker="audit-rows", retries=50)
    await eventually(lambda: len(titles(ui_user)) == 2)
    assert titles(ui_user) == [
        f"ban_user · user {target.id[:8]} · by {admin.username}",
        f"hold_account · user {target.id[:8]} · by {admin.username}",
    ]
    await ui_user.should_see("Reason: confirmed shill ring")
    await ui_user.should_see("1 to 2 of 2")

    # The actor filter takes a username; an unknown one is said in words.
    ui_user.find(marker="audit-entity").clear()
    ui_user.find(marker="audit-actor").type(admin.username)
    ui_user.find(marker="audit-action").type("hold_account")
    ui_user.find(marker="audit-go").click()
    await eventually(lambda: len(titles(ui_user)) == 1)
    assert titles(ui_user)[0].startswith("hold_account")
    ui_user.find(marker="audit-actor").clear().type("nobody-has-this-name")
    ui_user.find(marker="audit-go").click()
    await ui_user.should_see("No account is called 'nobody-has-this-name'")


async def test_the_log_pages_newest_first(ui_user: User, gql: GQL, app):
    admin = await make_admin(gql, app)
    targets = [await register(gql) for _ in range(11)]
    for target in targets:
        for held in (True, False):
            body = await gql(
                HOLD, {"id": target.id, "held": held, "reason": REASON}, token=admin.token
            )
            assert body["data"]["setFraudHold"]["errors"] == []
    # 22 rows by this admin: a page of 20, then 2.
    await sign_in(ui_user, admin, next_path=f"/audit?actor={admin.id}")
    await ui_user.should_see(marker="audit-rows", retries=50)
    await eventually(lambda: len(titles(ui_user)) == 20)
    first_page = titles(ui_user)
    assert first_page[0].startswith(f"release_account · user {targets[-1].id[:8]}")
    await ui_user.should_see("1 to 20 of 22")

    ui_user.find(marker="audit-older").click()
    await eventually(lambda: len(titles(ui_user)) == 2)
    assert titles(ui_user)[-1].startswith(f"hold_account · user {targets[0].id[:8]}")
    await ui_user.should_see("21 to 22 of 22")
    ui_user.find(marker="audit-newer").click()
    await eventually(lambda: titles(ui_user) == first_page)


def test_details_read_as_fields_before_and_after() -> None:
    details = {
        "before": {"fraud_hold": False, "roles": ["BIDDER"]},
        "after": {"fraud_hold": True, "roles": ["BIDDER", "SELLER"], "since": None},
        "reason": REASON,
        "flags_actioned": ["6c1e"],
    }
    assert changed_fields(details) == [
        ("fraud_hold", "false", "true"),
        ("roles", '["BIDDER"]', '["BIDDER", "SELLER"]'),
        ("since", "—", "none"),
    ]
    assert facts(details) == {"flags_actioned": ["6c1e"]}
    assert changed_fields({"before": "not a mapping"}) == []


@pytest.mark.parametrize("who", ["bidder", "seller"])
async def test_others_get_not_for_this_account(ui_user: User, gql: GQL, who: str):
    account = await register(gql, seller=who == "seller")
    await sign_in(ui_user, account, next_path="/audit")
    await ui_user.should_see("Not for this account", retries=50)
    await ui_user.should_not_see(marker="audit-rows")


async def test_anonymous_is_sent_to_sign_in(ui_user: User):
    await ui_user.open("/audit")
    await ui_user.should_see(marker="sign-in")


# -- an open page outlives its sign-in; hostile input ----------------------------------


async def test_an_open_audit_log_reads_nothing_once_the_admin_is_banned(
    ui_user: User, gql: GQL, app
):
    admin = await make_admin(gql, app)
    other = await make_admin(gql, app)
    target = await register(gql)
    await sign_in(ui_user, admin, next_path="/audit")
    await ui_user.should_see(marker="audit-go", retries=50)
    await ban_out_of_band(app, admin.id)
    held = await gql(HOLD, {"id": target.id, "held": True, "reason": REASON}, token=other.token)
    assert held["data"]["setFraudHold"]["errors"] == [], held

    ui_user.find(marker="audit-entity").clear().type(target.id)
    ui_user.find(marker="audit-go").click()
    leaked = await settles(lambda: any(target.id[:8] in t for t in titles(ui_user)))
    assert not leaked, "a banned admin's open audit log showed a row written after the ban"


@pytest.mark.parametrize("box", ["audit-actor", "audit-entity", "audit-action"])
async def test_a_nul_byte_in_a_filter_is_refused_in_words(
    ui_user: User, gql: GQL, app, box: str, caplog: pytest.LogCaptureFixture
):
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/audit")
    await ui_user.should_see(marker="audit-go", retries=50)
    ui_user.find(marker=box).type("ab\x00c")
    ui_user.find(marker="audit-go").click()
    await ui_user.should_see("must not contain NUL")
    assert crashes(caplog) == []


@pytest.mark.parametrize("value", ["%00", "a%00b", "%1F", "1" * 400])
async def test_hostile_query_values_at_page_load_are_refused_in_words(
    ui_user: User, gql: GQL, app, value: str, caplog: pytest.LogCaptureFixture
):
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/overview")
    await ui_user.open(f"/audit?entity={value}&action={value}&actor={value}&type={value}")
    await ui_user.should_see(marker="audit-go", retries=50)
    assert crashes(caplog) == []


async def settles(check: Any, seconds: float = 3.0) -> bool:
    """True if `check()` became true within `seconds` (what must not happen)."""
    return await eventually_true(check, seconds)
