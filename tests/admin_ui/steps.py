"""Steps the admin app's page tests share: accounts and signing in through the form."""

from __future__ import annotations

import asyncio

from nicegui.testing.user import User

from tests.helpers import PASSWORD, Account


async def sign_in(user: User, account: Account, *, next_path: str = "/") -> None:
    """Sign in through /login as `account` (password `PASSWORD`), landing on `next_path`.

    Returns once the browser has left /login: the form navigates when the sign-in
    answered, and a page opened before that would be opened signed out."""
    await user.open(f"/login?next={next_path}")
    user.find(marker="email").type(account.email)
    user.find(marker="password").type(PASSWORD)
    user.find(marker="sign-in").click()
    for _ in range(200):
        if user.back_history and not user.back_history[-1].startswith("/login"):
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{account.username} was not signed in (still on /login)")
