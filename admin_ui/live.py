"""Live updates for an open page: follow a bus channel while the page is open.

`follow(channel, handle)` subscribes to the event bus (realtime/broadcast.py) for the
page's client and calls `handle(message)` (the published JSON text) in the page's
context for each event; the subscription ends when the browser leaves. A subscriber that
falls behind (SlowConsumer) or misses events (Resync) calls `on_gap` (default: nothing)
and subscribes again, so a page that redraws from the source on a gap never shows a
stale picture for long. Nothing is subscribed before the browser connects; the
subscription ends when NiceGUI deletes the page's client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import background_tasks, ui

from admin_ui.context import admin_context
from realtime.broadcast import Resync, SlowConsumer

log = logging.getLogger("gavel.admin")

Handler = Callable[[str], Awaitable[None] | None]

# How long a drawn page waits for its browser to connect before giving up following.
CONNECT_TIMEOUT = 20.0


def follow(channel: str, handle: Handler, *, on_gap: Handler | None = None) -> None:
    """Call `handle(message)` for each event on `channel` while this page is open."""
    bus = admin_context().bus
    if bus is None:
        return
    client = ui.context.client

    async def call(fn: Handler, message: str) -> None:
        with client:
            result = fn(message)
            if asyncio.iscoroutine(result):
                await result

    async def pump() -> None:
        # Only once the browser is there: a page fetched and never opened (a script) must
        # not hold a subscription until NiceGUI drops its client.
        try:
            await client.connected(timeout=CONNECT_TIMEOUT)
        except Exception:  # ClientConnectionTimeout: nobody came
            return
        while True:
            try:
                async with bus.subscribe(channel) as subscriber:
                    async for event in subscriber:
                        await call(handle, str(event.message))
                return
            except (Resync, SlowConsumer):
                if on_gap is not None:
                    await call(on_gap, "")
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a bus outage: try again, the page stays up
                log.warning("admin live view of %r: %r", channel, err)
                await asyncio.sleep(1.0)

    task: Any = background_tasks.create(pump(), name=f"admin-follow-{channel}")
    # Not on disconnect: a browser that reconnects within NiceGUI's reconnect timeout
    # keeps its page (and this subscription); the client is deleted when it does not.
    client.on_delete(task.cancel)
