"""Mounting the admin app into Gavel's root ASGI app at /admin.

NiceGUI runs inside the root FastAPI app through `ui.run_with(app, mount_path="/admin")`,
which wraps the root app's lifespan with NiceGUI's own start-up (its timers, its
socket.io server, its storage). A plain Starlette `Mount` would serve the pages but never
run that start-up, so nothing live would update (SPEC §1).

NiceGUI is one per process (its app, pages and clients are module globals), so only one
root app per process can carry it: `mount_admin` refuses a second. Its session storage
(`app.storage.user`: the session's tokens and preferences) lives in Redis through the
app's own client, on a single node or a cluster (admin_ui/session_store.py); each open
page's widgets live in the process that drew them, hence sticky routing
(docs/admin-app.md "Running several processes").
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from nicegui import app as nicegui_app
from nicegui import background_tasks, ui
from nicegui.storage import Storage

from admin_ui import session_store
from admin_ui.context import AdminContext, set_context
from admin_ui.shell import register_pages

log = logging.getLogger("gavel.admin")

MOUNT_PATH = "/admin"
_mounted: list[FastAPI] = []


def mount_admin(
    app: FastAPI,
    context: AdminContext,
    *,
    storage_secret: str,
    session_ttl: int,
    secure_cookie: bool = False,
    reconnect_timeout: float = 10.0,
) -> None:
    """Serve the admin app at /admin of `app`, with `context`'s parts.

    `storage_secret` signs the session cookie (GAVEL_ADMIN_STORAGE_SECRET); sessions live
    in Redis for `session_ttl` seconds after their last change (the refresh token's
    life). `secure_cookie` (production) sends the session cookie over HTTPS only.
    The cookie is SameSite=Lax (another site's page cannot ride it) and lasts a day of
    inactivity at most. Raises RuntimeError when this process already mounted it on another app.
    """
    if _mounted:
        raise RuntimeError(
            "the admin app (NiceGUI) can be mounted once per process; set GAVEL_ADMIN_UI=false"
            " for the other apps of this process"
        )
    _mounted.append(app)
    set_context(context)
    # Sessions in Redis through the app's own client (admin_ui/session_store.py), never
    # NiceGUI's per-session Redis clients; its general storage stays unused, in memory.
    Storage.redis_url = None
    session_store.install(context.deps.slots.redis, session_ttl)
    nicegui_app.on_startup(lambda: background_tasks.create(session_store.prune_forever()))
    register_pages()
    ui.run_with(
        app,
        mount_path=MOUNT_PATH,
        storage_secret=storage_secret,
        session_middleware_kwargs={
            "session_cookie": "gavel_admin_session",
            "same_site": "lax",
            "https_only": secure_cookie,
            "max_age": 24 * 3600,
        },
        title="Gavel",
        favicon="🔨",
        dark=None,
        reconnect_timeout=reconnect_timeout,
        show_welcome_message=False,
    )
