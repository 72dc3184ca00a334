"""Running a person's action: re-authenticate, call the use case, say how it went.

    await act(lambda viewer: moderation.ban_user(deps, viewer, user_id, reason=reason),
              done="Banned.", audience="admin")

The viewer is read again for every action (a ban or a lost role takes effect at the next
click); a refusal is shown as the domain's message, never a stack trace; a store that is
down is said so. Handlers await this: nothing blocks the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nicegui import ui

from admin_ui import session
from admin_ui.messages import explain
from admin_ui.shell import Audience, admits
from domain.errors import DomainError
from services.unavailable import Unavailable
from storage.tables import User

log = logging.getLogger("gavel.admin")
T = TypeVar("T")


async def act(
    work: Callable[[User], Awaitable[T]],
    *,
    audience: Audience,
    done: str | None = None,
) -> T | None:
    """Run `work(viewer)`; None when refused (the reason was shown) or signed out."""
    try:
        viewer = await session.signed_in_user()
    except Unavailable:
        ui.notify("Gavel's data stores are not answering: try again soon.", type="warning")
        return None
    if viewer is None:
        ui.navigate.to("/login")
        return None
    if not admits(audience, viewer):
        ui.notify("Your account may not do this.", type="negative")
        return None
    try:
        result = await work(viewer)
    except DomainError as err:
        ui.notify(explain(err), type="negative", multi_line=True)
        return None
    except Unavailable:
        ui.notify("Gavel's data stores are not answering: nothing was changed.", type="warning")
        return None
    if done:
        ui.notify(done, type="positive")
    return result
