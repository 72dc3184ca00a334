"""A persister that dies for real mid-batch: run as `python -m
tests.integration.persister_killed` with DATABASE_URL and REDIS_URL set, it drains the
live auctions' outboxes and is killed (SIGKILL: no rollback handler, nothing flushed)
right after its transaction wrote the notifications, before the commit.
`test_notifications.py` then lets another persister write the same events."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from typing import Any

import realtime.event_records as records
from gavel_app import connect_redis
from realtime.persister import Persister
from realtime.slots import AuctionSlots
from settings import Settings
from storage import notification_writer
from storage.db import make_engine, make_session_factory
from storage.notification_writer import NewNotification
from storage.uow import UnitOfWorkFactory

_real = notification_writer.add_notifications


async def _then_die(session: Any, items: Sequence[NewNotification]) -> int:
    added = await _real(session, items)
    if added:
        os.kill(os.getpid(), signal.SIGKILL)
    return added


async def main() -> None:
    records.add_notifications = _then_die  # type: ignore[attr-defined]
    settings = Settings()
    assert settings.database_url and settings.redis_url
    engine = make_engine(settings.database_url, pool_size=2)
    redis = connect_redis(settings)
    persister = Persister(
        redis, AuctionSlots(redis), UnitOfWorkFactory(make_session_factory(engine))
    )
    await persister.drain()
    raise SystemExit("writing the notifications should have killed this process")


if __name__ == "__main__":
    asyncio.run(main())
