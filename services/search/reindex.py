"""Rebuild the whole search index from PostgreSQL, without downtime and without losing
a change made meanwhile.

    python -m services.search.reindex        (or `make reindex`; a progress bar on stderr)

1. One REPEATABLE READ transaction reads every non-draft auction in batches of
   `batch` (keyset on the id), so the new index is the source of record as of one
   snapshot; the snapshot is noted (`pg_current_snapshot()`).
2. `SearchIndex.rebuild` writes those documents into a new index beside the live one
   and swaps it in atomically; searches answer from the old one until the swap.
3. Changes committed meanwhile reached the live (old) index through the indexer but
   are missing from the new one. The change-capture triggers journal the transaction
   of every auction's latest change in `search_changes` (storage/search_queue_tables.py),
   so after the swap every auction changed by a transaction the snapshot did not see
   (committed later, or still running when it was taken) is queued again, and the
   indexer (services/search/indexer.py) rewrites it into the new index within a second.
   Exact, with no clock involved: a transaction either is in the snapshot or is queued.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from tqdm import tqdm

from adapters.search.choice import open_search_index
from domain.enums import AuctionStatus
from services.search.documents import document_of
from services.search.port import Progress, SearchDocument, SearchIndex
from settings import Settings, get_settings
from storage.columns import utcnow
from storage.db import make_engine, make_session_factory
from storage.search_queue_tables import SEARCH_CHANNEL
from storage.tables import Auction, Item
from storage.uow import UnitOfWorkFactory

log = logging.getLogger("gavel.search")

# As text: asyncpg would decode the snapshot into a tuple.
_SNAPSHOT = text("SELECT pg_current_snapshot()::text")

# Auctions changed by a transaction the rebuild's snapshot did not see.
_REQUEUE = text(
    """
    INSERT INTO search_pending (auction_id, queued_at)
    SELECT auction_id, clock_timestamp() FROM search_changes
    WHERE NOT pg_visible_in_snapshot(xid::text::xid8, CAST(CAST(:snapshot AS text) AS pg_snapshot))
    ORDER BY auction_id
    ON CONFLICT (auction_id) DO NOTHING
    """
)

# A test's stand-in for a slow rebuild: awaited after each batch is handed over.
BetweenBatches = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reindexed:
    """What a reindex did: documents written to the new index, and auctions changed
    while it ran, queued again for the indexer."""

    written: int
    requeued: int
    snapshot: str


async def _count(session: AsyncSession) -> int:
    return (
        await session.exec(
            select(func.count()).select_from(Auction).where(Auction.status != AuctionStatus.DRAFT)
        )
    ).one()


async def _batches(
    session: AsyncSession,
    size: int,
    clock: Callable[[], datetime],
    between: BetweenBatches | None,
) -> AsyncIterator[Sequence[SearchDocument]]:
    after: uuid.UUID | None = None
    while True:
        query = (
            select(Auction, Item)
            .join(Item, col(Item.id) == Auction.item_id)
            .where(Auction.status != AuctionStatus.DRAFT)
            .order_by(col(Auction.id))
            .limit(size)
        )
        if after is not None:
            query = query.where(col(Auction.id) > after)
        rows = (await session.exec(query)).all()
        if not rows:
            return
        now = clock()
        documents = [d for a, i in rows if (d := document_of(a, i, now)) is not None]
        after = rows[-1][0].id
        session.expunge_all()  # the identity map would hold every row read
        yield documents
        if between is not None:
            await between()


async def reindex(
    uow: UnitOfWorkFactory,
    index: SearchIndex,
    *,
    clock: Callable[[], datetime],
    batch: int = 1000,
    progress: Progress = lambda _: None,
    total: Callable[[int], None] = lambda _: None,
    between_batches: BetweenBatches | None = None,
) -> Reindexed:
    """Rebuild `index` from PostgreSQL (see the module docstring). `total` is told how
    many documents to expect, `progress` how many were just written. Raises what the
    index or PostgreSQL raised; the live index is then unchanged."""
    async with uow() as work:
        session = work.session
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        # The first statement fixes the transaction's snapshot: every batch reads it.
        conn = await session.connection()
        snapshot = str((await conn.execute(_SNAPSHOT)).scalar_one())
        total(await _count(session))
        written = await index.rebuild(_batches(session, batch, clock, between_batches), progress)
    requeued = await requeue_changed_since(uow, snapshot)
    log.info("reindex: %d documents written, %d changed meanwhile requeued", written, requeued)
    return Reindexed(written=written, requeued=requeued, snapshot=snapshot)


async def requeue_changed_since(uow: UnitOfWorkFactory, snapshot: str) -> int:
    """Queue every auction changed by a transaction `snapshot` does not see; returns
    how many were queued (auctions already queued are not counted)."""
    async with uow() as work:
        conn = await work.session.connection()
        queued = (await conn.execute(_REQUEUE, {"snapshot": snapshot})).rowcount
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": SEARCH_CHANNEL})
        await work.commit()
    return int(queued or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--batch", type=int, default=1000, help="documents per batch")
    args = parser.parse_args(argv)
    return asyncio.run(_main(args.batch))


def _open_index(settings: Settings, engine: AsyncEngine) -> SearchIndex:
    """The index the app uses (adapters/search/choice.py, the composition root's rule)."""
    return open_search_index(settings, engine)


async def _main(batch: int) -> int:
    settings = get_settings()
    if not settings.database_url:
        print(
            "DATABASE_URL must be set (`make reindex` sets it for the servers `make run` started)",
            file=sys.stderr,
        )
        return 2
    engine = make_engine(settings.database_url)
    index = _open_index(settings, engine)
    bar = tqdm(unit="doc", desc=f"reindex ({index.name})")

    def advance(written: int) -> None:
        bar.update(written)

    try:
        await index.prepare()
        done = await reindex(
            UnitOfWorkFactory(make_session_factory(engine)),
            index,
            clock=utcnow,
            batch=batch,
            progress=advance,
            total=lambda n: setattr(bar, "total", n),
        )
    finally:
        bar.close()
        await index.close()
        await engine.dispose()
    print(
        f"reindexed {done.written} documents into {index.name}; "
        f"{done.requeued} changed meanwhile queued for the indexer"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
