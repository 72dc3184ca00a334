"""The activity pulse: what each persister commit did, told to every admin page at once.

The admin overview (admin_ui/pages/overview.py) shows bids per minute live. It does not
poll PostgreSQL for that: every process's persister (realtime/persister.py) calls
`ActivityPulse.persisted` after it committed and acknowledged a batch, and this
publishes ONE small JSON message per commit on the bus channel `admin:activity`
(Redis pub/sub, so an admin page in any process hears every process's share):

    {"at": 1764480000123, "bids": 3, "ended": 1, "cancelled": 0, "auctions": 2}

- `at`: when the newest accepted bid of the commit was placed (the slot's clock, Unix
  milliseconds); the publishing time when the commit holds no bid.
- `bids`: accepted bids (buy-nows included); `ended`, `cancelled`: auctions that ended or
  were cancelled; `auctions`: auctions with events in the commit.

Only counts: no user, amount or auction id (the channel is read server-side by admin
pages, but there is nothing private to leak). Nothing is published for a commit with no
bid, end or cancellation (a Dutch clock's price steps). This runs after the commit,
never on the bid path; a bus that is down loses the pulse (logged as a warning), never
the persister's work. A batch replayed after a crash (the persister's writes are
idempotent) is told again, so a recovery may count its bids twice on the live chart.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from domain.events import AnyEvent, BidAccepted, Cancelled, Ended
from realtime.events import Bus

log = logging.getLogger("gavel.activity")

ACTIVITY_CHANNEL = "admin:activity"
# The persister waits for the publish: a slow bus must not hold its next pass for long.
PUBLISH_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Pulse:
    """One persister commit's activity (the module's docstring)."""

    at: int  # Unix milliseconds
    bids: int = 0
    ended: int = 0
    cancelled: int = 0
    auctions: int = 0

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()


def pulse_of(
    committed: Sequence[tuple[uuid.UUID, Sequence[AnyEvent]]], *, now_ms: int
) -> Pulse | None:
    """The pulse of one commit; None when it holds no bid, end or cancellation."""
    bids = ended = cancelled = 0
    newest_bid = 0
    for _, events in committed:
        for event in events:
            if isinstance(event, BidAccepted):
                bids += 1
                newest_bid = max(newest_bid, event.at_ms)
            elif isinstance(event, Ended):
                ended += 1
            elif isinstance(event, Cancelled):
                cancelled += 1
    if not (bids or ended or cancelled):
        return None
    return Pulse(
        at=newest_bid or now_ms,
        bids=bids,
        ended=ended,
        cancelled=cancelled,
        auctions=len(committed),
    )


def parse_pulse(message: str | bytes) -> Pulse | None:
    """A pulse from its bus message; None for anything else (logged: a bug, not input)."""
    try:
        raw: Any = orjson.loads(message)
        return Pulse(
            at=int(raw["at"]),
            bids=int(raw.get("bids", 0)),
            ended=int(raw.get("ended", 0)),
            cancelled=int(raw.get("cancelled", 0)),
            auctions=int(raw.get("auctions", 0)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        log.warning("activity pulse: unreadable message %r", message[:200])
        return None


class ActivityPulse:
    """The persister's commit listener that publishes the pulse (`after_commit`)."""

    def __init__(
        self,
        bus: Bus | None,
        *,
        clock: Callable[[], float] = time.time,
        timeout_seconds: float = PUBLISH_TIMEOUT_SECONDS,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.timeout_seconds = timeout_seconds

    async def persisted(self, committed: Sequence[tuple[uuid.UUID, Sequence[AnyEvent]]]) -> None:
        """Publish the commit's pulse; a failure is logged, never raised (the persister
        has already done its work)."""
        if self.bus is None:
            return
        pulse = pulse_of(committed, now_ms=int(self.clock() * 1000))
        if pulse is None:
            return
        try:
            async with asyncio.timeout(self.timeout_seconds):
                await self.bus.publish(ACTIVITY_CHANNEL, pulse.to_json())
        except Exception as err:  # the bus being down must not look like a persister fault
            log.warning("activity pulse not published: %r", err)
