"""realtime/slot_seeding.py: a slot made from the record starts its Dutch clock where the
API's public state does (domain/public_state.py `dutch_clock_start`), so the price shown
is the price a bid pays, even for a row without `activated_at`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from domain.public_state import dutch_clock_start
from realtime.slot_seeding import seed_for
from storage.tables import Auction

CREATED = datetime(2026, 1, 1, 9, tzinfo=UTC)
PUBLISHED = CREATED + timedelta(hours=1)
STARTS = CREATED + timedelta(hours=2)
ACTIVATED = STARTS + timedelta(seconds=3)


def dutch(
    *, activated_at: datetime | None, starts_at: datetime | None, published_at: datetime | None
) -> Auction:
    return Auction(
        id=uuid.uuid4(),
        item_id=uuid.uuid4(),
        seller_id=uuid.uuid4(),
        type="DUTCH",
        status="ACTIVE",
        currency="USD",
        starting_price=5000,
        dutch_step=100,
        dutch_step_seconds=60,
        dutch_floor=1000,
        ends_at=CREATED + timedelta(days=1),
        created_at=CREATED,
        activated_at=activated_at,
        starts_at=starts_at,
        published_at=published_at,
    )


async def test_the_slot_clock_starts_where_the_public_state_clock_does(app: FastAPI):
    cases = [
        dutch(activated_at=ACTIVATED, starts_at=STARTS, published_at=PUBLISHED),
        dutch(activated_at=None, starts_at=STARTS, published_at=PUBLISHED),
        # Published, never activated nor given a start: the clock counts from publication
        # (the seed used to count from the creation, the API from the publication).
        dutch(activated_at=None, starts_at=None, published_at=PUBLISHED),
        dutch(activated_at=None, starts_at=None, published_at=None),
    ]
    async with app.state.deps.uow() as uow:
        for auction in cases:
            seed = await seed_for(uow, auction)
            clock = dutch_clock_start(
                auction.activated_at, auction.starts_at, auction.published_at, auction.created_at
            )
            assert seed.activated_at == clock, auction
            assert seed.starts_at == (auction.starts_at or clock), auction
    assert [c for c in (ACTIVATED, STARTS, PUBLISHED, CREATED)] == [
        dutch_clock_start(a.activated_at, a.starts_at, a.published_at, a.created_at) for a in cases
    ]
