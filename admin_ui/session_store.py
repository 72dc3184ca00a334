"""Where a browser session's server-side storage (`app.storage.user`) lives: Redis,
through the app's own shared client.

NiceGUI's own Redis storage opens a client and a pub/sub connection per browser session
and holds them for the life of the process: every request without a cookie (a script,
a crawler) would take one more Redis connection from the auctions' server. Measured in
tests/admin_ui/test_sessions.py. So Gavel installs its own store instead:

- one GET when a session is first seen by this process, one SET (with a TTL) when it
  changes, DEL when it empties; no connection of its own, no listener;
- the key `gavel:admin:session:<id>` expires `ttl` seconds after the last change (the
  refresh token's life: nothing in it outlives what it could be used for);
- works on a single node and on Redis Cluster alike (single-key commands);
- empty sessions (never signed in, or signed out) are dropped from memory by `prune`,
  so cookie-less requests cost nothing lasting; a dropped one is loaded again when used.

Each process keeps a copy of a session it has seen and reads it again from Redis each
time the viewer is authenticated (`reload`: one GET per page load or action), so a
sign-out or a token refresh on another process counts at once; the open pages
themselves live in one process (docs/admin-app.md, "Running several processes").
This reaches into NiceGUI's storage internals (pinned, with
tests/unit/test_pinned_internals.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from nicegui import app, background_tasks, context, storage
from nicegui.persistence import PersistentDict
from starlette.requests import Request

log = logging.getLogger("gavel.admin")

KEY_PREFIX = "gavel:admin:session:"


class SessionStore(PersistentDict):
    """One browser session's storage, kept in Redis under `key` for `ttl` seconds."""

    def __init__(self, redis: Any, key: str, ttl: int) -> None:
        self.redis = redis
        self.key = key
        self.ttl = ttl
        self._loading = False
        super().__init__(data={}, on_change=self.publish)

    async def initialize(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        """Read the session again from Redis: another process may have refreshed its
        tokens or signed it out. Redis down: kept as it was."""
        try:
            raw = await self.redis.get(self.key)
        except Exception as err:
            log.warning("admin session %s could not be read: %r", self.key, err)
            return
        data = json.loads(raw) if raw else {}
        if data == dict(self):
            return
        self._loading = True  # what Redis holds needs no writing back
        try:
            for key in set(self) - set(data):
                del self[key]
            self.update(data)
        finally:
            self._loading = False

    def initialize_sync(self) -> None:  # NiceGUI's script mode only, never used here
        raise NotImplementedError("the admin app's sessions are loaded asynchronously")

    def publish(self) -> None:
        if self._loading:
            return
        background_tasks.create_lazy_or_defer(self._write(), name=f"admin-session-{self.key}")

    async def _write(self) -> None:
        try:
            if self:
                await self.redis.set(self.key, json.dumps(dict(self)), ex=self.ttl)
            else:
                await self.redis.delete(self.key)
        except Exception as err:
            log.warning("admin session %s could not be written: %r", self.key, err)


def install(redis: Any, ttl: int) -> None:
    """Make NiceGUI keep every browser session's storage in a `SessionStore`."""
    original = storage.Storage._create_persistent_dict

    def create(id: str) -> PersistentDict:
        if id.startswith(storage.USER_PREFIX):
            session = id[len(storage.USER_PREFIX) :]
            return SessionStore(redis, KEY_PREFIX + session, ttl)
        return original(id)

    storage.Storage._create_persistent_dict = staticmethod(create)  # type: ignore[method-assign]


def _page_request() -> Request | None:
    try:
        return context.client.request
    except RuntimeError:  # no page: an HTTP route
        return storage.request_contextvar.get()


def page_storage() -> PersistentDict:
    """`user_storage` for code that cannot await, once the page's session is loaded (a
    signed-in page's always is: signing the viewer in loaded it)."""
    request = _page_request()
    session_id = str(request.session.get("id", "")) if request is not None else ""
    users: dict[str, PersistentDict] = app.storage._users
    # Not users.get(id, app.storage.user): that would read app.storage.user first.
    return users[session_id] if session_id in users else app.storage.user  # noqa: SIM401


async def user_storage() -> PersistentDict:
    """The session storage of the page being drawn or acted on (`app.storage.user`),
    loaded again if `prune` dropped it meanwhile.

    It follows the page's own request (the client's), not the request context variable:
    a page keeps the session it was opened with, whatever request ran last in this task."""
    request = _page_request()
    if request is None or not request.session.get("id"):
        return app.storage.user
    session_id = str(request.session["id"])
    if session_id not in app.storage._users:
        await app.storage._create_user_storage(session_id)
    users: dict[str, PersistentDict] = app.storage._users
    return users[session_id]


def prune() -> int:
    """Drop empty sessions no request is using from memory; returns how many."""
    users: dict[str, PersistentDict] = app.storage._users
    busy = app.storage._active_request_sessions
    empty = [sid for sid, data in users.items() if not data and sid not in busy]
    for sid in empty:
        del users[sid]
    return len(empty)


async def prune_forever(every: float = 60.0) -> None:
    """`prune` every `every` seconds, for the life of the process."""
    while True:
        await asyncio.sleep(every)
        if dropped := prune():
            log.debug("admin sessions: %d empty ones dropped from memory", dropped)


async def start_session(request: Request, tokens: dict[str, str]) -> str:
    """Give `request` a NEW session id holding `tokens` (the response's cookie carries
    it), and return the id. A cookie anyone held before (planted by an attacker, say)
    stays signed out."""
    old = app.storage._users.get(request.session.get("id", ""))
    kept = {k: v for k, v in old.items() if k not in tokens} if old else {}  # preferences
    new_id = str(uuid.uuid4())
    request.session["id"] = new_id
    await app.storage._create_user_storage(new_id)
    app.storage._users[new_id].update({**kept, **tokens})
    return new_id
