"""The settlement worker's passes: start, lapse, capture before expiry, auto-release,
resume interrupted steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.deps import Deps


@dataclass
class JobReport:
    """What one `run_due` pass did (counts of sales per kind of move)."""

    started: int = 0
    lapsed: int = 0
    captured: int = 0
    released: int = 0
    resumed: int = 0
    errors: list[str] = field(default_factory=list)


async def run_due(deps: Deps, now: datetime | None = None) -> JobReport:
    """One pass of the worker at `now` (deps.clock() by default)."""
    return JobReport()
