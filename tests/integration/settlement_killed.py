"""A settlement process that dies for real: run as `python -m
tests.integration.settlement_killed BUYER_ID TRANSACTION_ID` with DATABASE_URL,
REDIS_URL and STRIPE_API_BASE set, it confirms receipt of the sale and is killed
(SIGKILL: no cleanup, no rollback handler, nothing flushed) the moment the gateway has
captured the payment. `test_settlement_resilience.py` then resumes the sale."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from typing import Any

import redis.asyncio as aioredis

from adapters.stripe_gateway import build_gateway
from gavel_app import build_deps
from realtime.slots import AuctionSlots
from services import settlement
from settings import Settings
from storage.db import make_engine, make_session_factory
from storage.tables import User
from storage.uow import UnitOfWorkFactory


class KilledAfterCapture:
    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def capture(self, *args: Any, **kwargs: Any) -> Any:
        await self._real.capture(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)


async def main(buyer_id: str, transaction_id: str) -> None:
    settings = Settings()
    assert settings.database_url and settings.redis_url
    engine = make_engine(settings.database_url, pool_size=2)
    slots = AuctionSlots(aioredis.from_url(settings.redis_url))
    deps = build_deps(
        settings, UnitOfWorkFactory(make_session_factory(engine)), slots, fast_hash=True
    )
    deps.payments = KilledAfterCapture(build_gateway(settings))
    async with deps.uow() as uow:
        buyer = await uow.session.get(User, uuid.UUID(buyer_id))
    assert buyer is not None
    await settlement.confirm_receipt(deps, buyer, uuid.UUID(transaction_id))
    raise SystemExit("the capture should have killed this process")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
