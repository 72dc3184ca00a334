"""The admin app's pages in NiceGUI's user simulation, on the test session's real app.

NiceGUI's own `user` fixture runs a main file; Gavel's pages need the session's `Deps`
(real PostgreSQL, Redis, bus), so this does what `nicegui.testing.user_simulation` does
(reset NiceGUI's globals, configure, start its lifespan, talk to it over ASGI) with our
pages registered against `context`. It reuses nicegui.testing's internals: nicegui is
pinned to 3.18 in pyproject.toml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from nicegui import app as nicegui_app
from nicegui import core, ui
from nicegui.functions.download import download
from nicegui.functions.navigate import Navigate
from nicegui.functions.notify import notify
from nicegui.storage import Storage
from nicegui.testing.general import nicegui_reset_globals, prepare_simulation
from nicegui.testing.user import User

from admin_ui import session_store
from admin_ui.context import AdminContext, set_context
from admin_ui.shell import declared_pages, register_pages


@asynccontextmanager
async def admin_simulation(context: AdminContext) -> AsyncIterator[User]:
    """A simulated browser (`nicegui.testing.User`) on the admin app's pages."""
    # The reset drops the page modules from sys.modules on exit (NiceGUI re-runs a main
    # file per test); ours are imported once and must stay the same module objects:
    # every page module is imported here first, whichever test runs first.
    declared_pages()
    kept = {k: v for k, v in sys.modules.items() if k == "admin_ui" or k.startswith("admin_ui.")}
    try:
        with nicegui_reset_globals():
            os.environ["NICEGUI_USER_SIMULATION"] = "true"
            try:
                prepare_simulation()
                set_context(context)
                Storage.redis_url = None
                nicegui_app.storage = Storage()
                session_store.install(
                    context.deps.slots.redis, int(context.deps.refresh_ttl.total_seconds())
                )
                register_pages()
                ui.run(storage_secret="simulated secret", show_welcome_message=False)
                async with core.app.router.lifespan_context(core.app):
                    transport = httpx.ASGITransport(core.app)
                    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                        yield User(c)
            finally:
                os.environ.pop("NICEGUI_USER_SIMULATION", None)
                ui.navigate = Navigate()
                ui.notify = notify
                ui.download = download
    finally:
        sys.modules.update(kept)
