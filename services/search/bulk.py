"""Fill the search index from PostgreSQL in one pass (the demo's seeds, tests, tools).

The freshness indexer (services/search/indexer.py) keeps the index current afterwards;
this only writes what is there now, without the build-beside swap of a reindex.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlmodel import col, select

from domain.enums import AuctionStatus
from services.deps import Deps
from services.search.documents import load_documents
from services.search.port import SearchIndex
from storage.tables import Auction
from storage.uow import UnitOfWorkFactory

BATCH = 1000


async def index_all(deps: Deps, progress: Callable[[int], None] | None = None) -> int:
    """Upsert the document of every non-draft auction into `deps.search`, `BATCH` at a
    time in id order; returns how many were written. No index: nothing to do (0)."""
    if deps.search is None:
        return 0
    return await index_auctions(deps.uow, deps.search, deps.clock, progress)


async def index_auctions(
    uow_factory: UnitOfWorkFactory,
    index: SearchIndex,
    clock: Callable[[], datetime],
    progress: Callable[[int], None] | None = None,
) -> int:
    """`index_all` with its parts given one by one (tools without a whole `Deps`)."""
    written = 0
    last = uuid.UUID(int=0)
    while True:
        async with uow_factory() as uow:
            ids = list(
                (
                    await uow.session.exec(
                        select(Auction.id)
                        .where(col(Auction.id) > last, Auction.status != AuctionStatus.DRAFT.value)
                        .order_by(col(Auction.id))
                        .limit(BATCH)
                    )
                ).all()
            )
            if not ids:
                return written
            documents, _ = await load_documents(uow.session, ids, clock())
        await index.upsert(documents)
        written += len(documents)
        last = ids[-1]
        if progress is not None:
            progress(len(documents))
