"""Steps the fraud, disputes and money page tests share."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from fastapi import FastAPI
from nicegui.testing.user import User as UIUser

from admin_ui.shell import declared_pages
from services.deps import Deps
from storage.tables import User
from tests.admin_ui.steps import sign_in
from tests.helpers import Account

# Every page module imported before the first simulation, which drops the modules it
# finds newly imported on exit (a second import would declare each page twice).
declared_pages()


async def open_as(user: UIUser, account: Account, path: str, expect: str) -> None:
    """Sign in as `account` and land on `path`, once `expect` (a marker or a text) shows."""
    await sign_in(user, account, next_path=path)
    await user.should_see(expect, retries=40)


async def user_row(app: FastAPI, account: Account) -> User:
    """The account's row: the viewer the use cases take."""
    deps: Deps = app.state.deps
    async with deps.uow() as uow:
        row = await uow.session.get(User, uuid.UUID(account.id))
        assert row is not None
        return row


async def eventually(check: Callable[[], bool], what: str, *, seconds: float = 5.0) -> None:
    """Wait until `check()` holds (page handlers run as tasks)."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")
