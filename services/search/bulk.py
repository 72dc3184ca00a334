"""Fill the search index from PostgreSQL in one pass (the demo's seeds, tests, tools).

The freshness indexer (services/search/indexer.py) keeps the index current afterwards;
this only writes what is there now, without the build-beside swap of a reindex.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlmodel import col, select

from domain.enums import AuctionStatus
from services.deps import Deps
from services.search.documents import load_documents
from storage.tables import Auction

BATCH = 1000


async def index_all(deps: Deps, progress: Callable[[int], None] | None = None) -> int:
    """Upsert the document of every non-draft auction into `deps.search`, `BATCH` at a
    time in id order; returns how many were written. No index: nothing to do (0)."""
    if deps.search is None:
        return 0
    written = 0
    last = uuid.UUID(int=0)
    while True:
        async with deps.uow() as uow:
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
            documents, _ = await load_documents(uow.session, ids, deps.clock())
        await deps.search.upsert(documents)
        written += len(documents)
        last = ids[-1]
        if progress is not None:
            progress(len(documents))
