"""Reindex (services/search/reindex.py): the whole index rebuilt from PostgreSQL beside
the live one, searches answering throughout, and no change made meanwhile lost.

Real parts only: the app's index (PostgreSQL), its running indexer and persister, bids
through GraphQL, and the command itself run as a process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import func, select

from services.search.port import SEARCHABLE_STATUSES, SearchFilter, SearchRequest, scaled_bound
from services.search.reindex import reindex
from storage.tables import Auction
from tests.helpers import BID, PUBLISH, create_auction, register

ROOT = Path(__file__).resolve().parents[2]


async def _price_at_least(index: Any, auction_id: str, major: str) -> bool:
    """Whether the index holds the auction with a shown price of at least `major`."""
    answer = await index.search(
        SearchRequest(
            None,
            SearchFilter(
                statuses=SEARCHABLE_STATUSES,
                auction_ids=(uuid.UUID(auction_id),),
                min_price_scaled=scaled_bound(Decimal(major), upper=False),
            ),
        )
    )
    return bool(answer.ids == [uuid.UUID(auction_id)])


async def _eventually(check: Any, seconds: float, what: str) -> None:
    deadline = time.perf_counter() + seconds
    while not await check():
        assert time.perf_counter() < deadline, what
        await asyncio.sleep(0.02)


async def _non_drafts(deps: Any) -> int:
    async with deps.uow() as uow:
        counted = await uow.session.exec(
            select(func.count()).select_from(Auction).where(Auction.status != "DRAFT")
        )
        return int(counted.one())


async def test_a_bid_during_a_slow_rebuild_is_in_the_index_after_the_swap(app, gql):
    deps = app.state.deps
    index = deps.search
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    created = await create_auction(gql, seller, startingPrice="10.00")
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    await _eventually(
        lambda: _price_at_least(index, created["id"], "10.00"), 5, "the listing was not indexed"
    )
    during: list[bool] = []

    async def slow_rebuild() -> None:
        """After the first batch was read (the snapshot is taken): a bid, which the
        running indexer writes into the live (old) index; searches still answer."""
        if during:
            return
        body = await gql(BID, {"id": created["id"], "amount": "40.00"}, token=bidder.token)
        assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
        await _eventually(
            lambda: _price_at_least(index, created["id"], "40.00"),
            5,
            "the bid did not reach the live index during the rebuild",
        )
        during.append(await _price_at_least(index, created["id"], "40.00"))

    done = await reindex(deps.uow, index, clock=deps.clock, batch=20, between_batches=slow_rebuild)

    assert during == [True]  # searches answered from the old index while it was built
    assert done.requeued >= 1  # at least the bid's auction was queued again
    # The new index was read before the bid; the re-queued change reaches it at once.
    await _eventually(
        lambda: _price_at_least(index, created["id"], "40.00"),
        1.0,
        "the bid made during the rebuild was lost by the swap",
    )


async def test_the_rebuilt_index_holds_every_non_draft_auction(app, gql):
    deps = app.state.deps
    seller = await register(gql, seller=True)
    draft = await create_auction(gql, seller)  # never searchable
    done = await reindex(deps.uow, deps.search, clock=deps.clock, batch=50)
    expected = await _non_drafts(deps)
    assert done.written == expected
    assert await deps.search.count() >= expected
    answer = await deps.search.search(
        SearchRequest(
            None,
            SearchFilter(statuses=SEARCHABLE_STATUSES, auction_ids=(uuid.UUID(draft["id"]),)),
        )
    )
    assert answer.ids == []


def test_the_reindex_command_rebuilds_with_a_progress_bar(settings, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_DATA_DIR": str(tmp_path),
        "GAVEL_JWT_SECRET": "reindex-test-" + "x" * 40,
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.search.reindex", "--batch", "100"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "reindexed" in result.stdout and "into postgres" in result.stdout, result.stdout
    assert "reindex (postgres)" in result.stderr  # tqdm's bar
