"""The app's background loops (persister, scheduler, settlement, notifications, fraud
scoring): started together in the lifespan, stopped together at shutdown.

Each loop finishes its pass when asked to stop (a persister pass cancelled midway would
leave entries read and unacknowledged); only a loop still running after `grace`
seconds is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("gavel.app")


@dataclass(frozen=True, slots=True)
class Loop:
    name: str
    run: Callable[[], Awaitable[None]]
    stop: Callable[[], None]


@dataclass
class BackgroundLoops:
    """Loops registered with `add` (those switched off by a setting are not added)."""

    loops: list[Loop] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def add(self, name: str, run: Callable[[], Awaitable[None]], stop: Callable[[], None]) -> None:
        self.loops.append(Loop(name, run, stop))

    def start(self) -> None:
        self.tasks = [asyncio.create_task(_run(loop), name=loop.name) for loop in self.loops]

    async def stop(self, grace: float = 5.0) -> None:
        for loop in self.loops:
            loop.stop()
        if not self.tasks:
            return
        _done, stuck = await asyncio.wait(self.tasks, timeout=grace)
        for task in stuck:
            log.warning("background task %s did not stop in time", task.get_name())
            task.cancel()
        if stuck:
            await asyncio.wait(stuck, timeout=1)


async def _run(loop: Loop) -> None:
    await loop.run()
