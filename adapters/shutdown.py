"""Graceful shutdown: what SIGTERM or Ctrl-C sets off before the server's own handling.

uvicorn, on SIGTERM or SIGINT, stops accepting connections and waits for every open one
to finish (up to `--timeout-graceful-shutdown`) before it runs the app's lifespan
shutdown. It closes WebSockets itself (code 1012, "service restart"), but a response
still streaming, a subscription over server-sent events, would keep it waiting until
the timeout; and a load balancer should see the process unready before it stops taking
connections. `GracefulShutdown.signals()`, entered in the lifespan (inside uvicorn's
own signal capture), chains the server's signal handlers:

1. the signal: `draining` turns true, /readyz answers 503 "draining";
2. `delay` seconds later (GAVEL_SHUTDOWN_DELAY, 0 by default) the stop callbacks run
   (live streams end) and the server's handler is called: uvicorn stops listening,
   closes WebSockets with 1012 and waits for the requests in flight (bids get their
   answers);
3. uvicorn runs the lifespan shutdown: the scheduler stops and the outbox persister
   writes what is left (gavel_app.py).

A second signal during the delay cuts it short. A signal nothing handled before (no
server: a test driving the lifespan itself) is left alone: there is nothing to chain.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import FrameType
from typing import Any

log = logging.getLogger("gavel.shutdown")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], Any]


class GracefulShutdown:
    """The process's shutdown, in two steps: draining (unready), then stopping (streams
    end). `stop()` is idempotent; the lifespan calls it in any case."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.draining = False  # read by /readyz
        self.stopped = False
        self._on_stop: list[Callable[[], Awaitable[None] | None]] = []
        self._delaying = False
        self._passed_on = False
        self._stopping: asyncio.Task[None] | None = None

    def on_stop(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Run `callback` when the shutdown reaches its stop (streams end)."""
        self._on_stop.append(callback)

    async def stop(self) -> None:
        """Draining, then every stop callback, once; a failing callback is logged."""
        self.draining = True
        if self.stopped:
            return
        self.stopped = True
        for callback in self._on_stop:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                log.exception("a shutdown step failed")

    @contextmanager
    def signals(self) -> Iterator[None]:
        """Chain this shutdown in front of the handlers of SIGINT and SIGTERM (must be
        entered on the event loop's thread); the previous handlers are back on exit."""
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread receives signals
            return
        loop = asyncio.get_running_loop()
        chained: dict[signal.Signals, Handler] = {}
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            if callable(previous):
                chained[sig] = previous
                signal.signal(sig, partial(self._on_signal, loop, previous))
        try:
            yield
        finally:
            for sig, previous in chained.items():
                current = signal.getsignal(sig)
                if isinstance(current, partial) and current.func == self._on_signal:
                    signal.signal(sig, previous)

    def _on_signal(
        self, loop: asyncio.AbstractEventLoop, previous: Handler, sig: int, frame: FrameType | None
    ) -> None:
        # Runs between two bytecodes of whatever the loop was doing: only flags are set
        # here; the rest is handed to the loop (call_soon_threadsafe also wakes it up).
        self.draining = True
        if self.delay > 0 and not self._delaying:
            self._delaying = True
            loop.call_soon_threadsafe(self._delay, loop, previous, sig)
            return
        self._pass_on(loop, previous, sig, frame)

    def _delay(self, loop: asyncio.AbstractEventLoop, previous: Handler, sig: int) -> None:
        log.info("%s: draining (/readyz 503) for %.1fs", signal.Signals(sig).name, self.delay)
        loop.call_later(self.delay, self._after_delay, loop, previous, sig)

    def _after_delay(self, loop: asyncio.AbstractEventLoop, previous: Handler, sig: int) -> None:
        if not self._passed_on:  # else a second signal cut the delay short
            self._pass_on(loop, previous, sig, None)

    def _pass_on(
        self, loop: asyncio.AbstractEventLoop, previous: Handler, sig: int, frame: FrameType | None
    ) -> None:
        if not self._passed_on:
            self._passed_on = True
            loop.call_soon_threadsafe(self._start_stopping, loop)
        previous(sig, frame)  # uvicorn: should_exit (a second SIGINT: force_exit)

    def _start_stopping(self, loop: asyncio.AbstractEventLoop) -> None:
        log.info("shutting down: live streams end, requests in flight finish")
        self._stopping = loop.create_task(self.stop(), name="graceful shutdown")
