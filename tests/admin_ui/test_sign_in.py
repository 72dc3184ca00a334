"""Signing in to the admin app: the API's accounts, login rules and refusals."""

from __future__ import annotations

from nicegui.testing.user import User

from admin_ui.pages.sign_in import safe_next
from tests.admin_ui.steps import sign_in
from tests.conftest import GQL
from tests.helpers import register


async def test_anonymous_visitor_is_sent_to_sign_in(ui_user: User) -> None:
    await ui_user.open("/")
    await ui_user.should_see(marker="sign-in")
    await ui_user.should_not_see(marker="bidder-home")


async def test_wrong_password_is_refused_in_words(ui_user: User, gql: GQL) -> None:
    account = await register(gql)
    await ui_user.open("/login")
    ui_user.find(marker="email").type(account.email)
    ui_user.find(marker="password").type("not the password")
    ui_user.find(marker="sign-in").click()
    await ui_user.should_see("The email or the password is wrong.")
    await ui_user.open("/")
    await ui_user.should_see(marker="sign-in")


async def test_bidder_is_told_what_the_app_is_for(ui_user: User, gql: GQL) -> None:
    account = await register(gql)
    await sign_in(ui_user, account)
    await ui_user.should_see(marker="bidder-home")


def test_next_never_leaves_the_app() -> None:
    assert safe_next("/auctions?x=1") == "/auctions?x=1"
    assert safe_next("%2Flistings") == "/listings"
    for hostile in (
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:x",
        None,
    ):
        assert safe_next(hostile) == "/"


async def test_a_bidder_becomes_a_seller_in_one_click(ui_user: User, gql: GQL) -> None:
    await sign_in(ui_user, await register(gql))
    await ui_user.should_see(marker="bidder-home")
    ui_user.find(marker="become-seller").click()
    await ui_user.should_see(marker="create-first-listing", retries=50)
