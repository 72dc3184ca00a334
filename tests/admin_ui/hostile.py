"""Steps for the admin app's hostile-input and stale-session tests: forged socket
events, waiting for what must not happen, and revoking an open page's sign-in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from nicegui import events, ui
from nicegui.testing.user import User
from sqlalchemy import text

# Forged `request` events a table may receive: not numbers, too large, negative, an
# unknown sort column, and payloads of the wrong shape.
FORGED_REQUESTS: list[Any] = [
    {"pagination": {"page": "x", "rowsPerPage": 20}},
    {"pagination": {"page": 10**20, "rowsPerPage": 20}},
    {"pagination": {"page": -3, "rowsPerPage": -1}},
    {"pagination": {"page": 1, "rowsPerPage": "all"}},
    {"pagination": {"page": 1.5, "rowsPerPage": 0, "sortBy": "password_hash; --"}},
    {"pagination": "x"},
    ["x"],
    None,
]


def table_rows(user: User, marker: str) -> list[dict[str, Any]]:
    """The rows the table marked `marker` shows; [] once the page left it."""
    found = user.find(marker=marker).elements if _has(user, marker) else set()
    tables = [t for t in found if isinstance(t, ui.table)]
    return list(tables[0].rows) if tables else []


def _has(user: User, marker: str) -> bool:
    client = user.client
    return client is not None and any(marker in e._markers for e in client.elements.values())


def trigger(user: User, marker: str, event: str, args: Any) -> None:
    """Send `event` with `args` to the element marked `marker`, visible or not, as a
    browser's socket can (user.find sees only visible elements)."""
    client = user.client
    assert client is not None
    with client:
        for element in list(client.elements.values()):
            if marker not in element._markers:
                continue
            for listener in element._event_listeners.values():
                if listener.type == event:
                    events.handle_event(
                        listener.handler,
                        events.GenericEventArguments(sender=element, client=client, args=args),
                    )


async def eventually(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    """True as soon as `check()` is; False if it never was within `seconds`."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


def crashes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Handler tracebacks (NiceGUI logs a handler that raised at ERROR)."""
    return [r.getMessage()[:200] for r in caplog.records if r.levelname == "ERROR"]


async def ban_out_of_band(app: FastAPI, user_id: str) -> None:
    """Ban the account by hand in SQL (as a DBA would) and let the copies of its state
    lapse at once (the Redis copy's TTL and the process cache bound how long an
    out-of-band change goes unseen: realtime/account_states.py)."""
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE users SET banned_at = now(), token_version = token_version + 1"
                " WHERE id = :u"
            ),
            {"u": user_id},
        )
    await app.state.deps.account_states.forget(uuid.UUID(user_id))
    app.state.deps.user_cache.forget(uuid.UUID(user_id))
