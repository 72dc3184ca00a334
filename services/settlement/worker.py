"""The settlement worker every app process runs: `run_due` every few seconds.

Several processes may run it at once: each pass locks the rows it acts on with
`FOR UPDATE SKIP LOCKED`, so a sale another process is handling is skipped, not acted
on twice (services/settlement/jobs.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

from realtime.background import StopSignal, cancelling
from services.deps import Deps
from services.settlement.jobs import run_due
from services.settlement.reconciliation import reconcile

log = logging.getLogger("gavel.settlement")


class SettlementWorker:
    def __init__(self, deps: Deps, *, interval: float, reconcile_every: float = 3600.0) -> None:
        self.deps = deps
        self.interval = interval
        self.reconcile_every = reconcile_every
        self.stopping = StopSignal()

    async def run(self) -> None:
        next_reconcile = time.monotonic() + self.reconcile_every
        while not self.stopping.is_set:
            try:
                report = await run_due(self.deps)
                if report.errors:
                    log.warning("settlement pass: %s", "; ".join(report.errors))
                if self.deps.payments is not None and time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + self.reconcile_every
                    await reconcile(self.deps)  # logs each difference
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise
                log.exception("settlement pass failed; retrying")
            await self.stopping.sleep(self.interval)
