"""Helpers for the long-running loops every app process runs."""

from __future__ import annotations

import asyncio
import contextlib


def cancelling() -> bool:
    """Whether the current task is being cancelled.

    Database drivers sometimes turn a CancelledError into their own error; a loop that
    catches errors to keep going must re-raise then, or shutdown waits forever.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class StopSignal:
    """Asks a loop to end at its next turn; the reliable way, cancellation being the fast one."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
