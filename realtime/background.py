"""Helpers for the long-running loops every app process runs."""

from __future__ import annotations

import asyncio


def cancelling() -> bool:
    """Whether the current task is being cancelled.

    Database drivers sometimes turn a CancelledError into their own error; a loop that
    catches errors to keep going must re-raise then, or shutdown waits forever.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
