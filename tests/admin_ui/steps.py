"""Steps the admin app's page tests share: accounts and signing in through the form."""

from __future__ import annotations

from nicegui.testing.user import User

from tests.helpers import PASSWORD, Account


async def sign_in(user: User, account: Account, *, next_path: str = "/") -> None:
    """Sign in through /login as `account` (password `PASSWORD`), landing on `next_path`.

    Returns once the sign-in form has gone (the click's handler runs as a task: a page
    opened before it finished would be opened by nobody signed in)."""
    await user.open(f"/login?next={next_path}")
    user.find(marker="email").type(account.email)
    user.find(marker="password").type(PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_not_see(marker="sign-in", retries=100)
