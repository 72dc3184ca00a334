"""Saved-search matching: each listing published (left DRAFT) is matched once against the
saved searches that existed when it was published, and each match tells the search's
owner once (a SAVED_SEARCH_MATCH notification; issue 16 item 6, docs/search.md).

Work comes from `saved_search_queue`, filled by a trigger in the publishing transaction
(migration 0013). A pass claims a batch FOR UPDATE SKIP LOCKED, so every app process may
run the matcher and no two take the same listing; it deletes the batch in the
transaction that adds the notifications, so a crash before the commit leaves the batch
for the next pass, and the dedupe key `SAVED_SEARCH_MATCH:<saved search>:<auction>`
keeps a redone pass from telling anyone twice.

A listing is matched only once the index holds it, so the search sees it: while the
indexer's queue (`search_pending`, services/search/indexer.py) holds it, it waits. Where
that queue does not exist, a listing waits `index_delay` after publishing instead.

Never on the bid path: this reads the queue, the saved searches and the index only.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Uuid
from sqlmodel import col, select

from domain.enums import AuctionSort
from domain.errors import ValidationFailed
from realtime.background import StopSignal, cancelling
from services.deps import Deps
from services.search.port import MAX_RESULTS, SearchRequest
from services.search.saved_searches import filter_from_json, matching_filter
from storage.notification_writer import NewNotification, add_notifications
from storage.tables import SavedSearch

log = logging.getLogger("gavel.search")

KIND = "SAVED_SEARCH_MATCH"
_SEARCHES_PAGE = 1000  # saved searches read at once

_CLAIM = """
SELECT q.auction_id, q.published_at, a.seller_id
FROM saved_search_queue q JOIN auctions a ON a.id = q.auction_id
WHERE q.published_at <= :ready_before {indexed}
ORDER BY q.published_at, q.auction_id
LIMIT :batch
FOR UPDATE OF q SKIP LOCKED
"""
_INDEXED = "AND NOT EXISTS (SELECT 1 FROM search_pending p WHERE p.auction_id = q.auction_id)"

_DONE = text("DELETE FROM saved_search_queue WHERE auction_id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(Uuid()))
)


def dedupe_key(saved_search_id: uuid.UUID, auction_id: uuid.UUID) -> str:
    return f"{KIND}:{saved_search_id}:{auction_id}"


@dataclass(frozen=True, slots=True)
class _Listing:
    auction_id: uuid.UUID
    published_at: datetime
    seller_id: uuid.UUID


class SavedSearchMatcher:
    """Matches new listings every `interval` seconds (at once again while a pass found a
    full batch) until stopped. `index_delay`: see the module's docstring."""

    def __init__(
        self, deps: Deps, *, interval: float, batch: int = 200, index_delay: float = 2.0
    ) -> None:
        self.deps = deps
        self.interval = interval
        self.batch = max(1, min(batch, MAX_RESULTS))
        self.index_delay = timedelta(seconds=index_delay)
        self.stopping = StopSignal()
        self._claim: Any = None  # the claim statement, once we know if search_pending exists

    async def _claim_statement(self, conn: Any) -> Any:
        if self._claim is None:
            found = await conn.execute(text("SELECT to_regclass('search_pending') IS NOT NULL"))
            indexed = bool(found.scalar())
            if not indexed:
                log.info("no search_pending queue: matching %s after publishing", self.index_delay)
            self._claim = (text(_CLAIM.format(indexed=_INDEXED if indexed else "")), indexed)
        return self._claim

    async def match_once(self) -> int:
        """One pass over at most `batch` listings; returns how many it took."""
        index = self.deps.search
        if index is None:
            return 0
        now = self.deps.clock()
        async with self.deps.uow() as uow:
            conn = await uow.session.connection()
            claim, indexed = await self._claim_statement(conn)
            ready_before = now if indexed else now - self.index_delay
            rows = (
                await conn.execute(claim, {"ready_before": ready_before, "batch": self.batch})
            ).all()
            if not rows:
                return 0
            listings = [_Listing(r.auction_id, r.published_at, r.seller_id) for r in rows]
            notes = await self._matches(listings, now)
            await add_notifications(uow.session, notes)
            await conn.execute(_DONE, {"ids": [x.auction_id for x in listings]})
            await uow.commit()
        return len(listings)

    async def _matches(self, listings: list[_Listing], now: datetime) -> list[NewNotification]:
        """The notifications for `listings`: every saved search made before a listing was
        published, of someone other than its seller, whose query and filter find it."""
        index = self.deps.search
        assert index is not None
        by_id = {x.auction_id: x for x in listings}
        ids = list(by_id)
        latest = max(x.published_at for x in listings)
        notes: list[NewNotification] = []
        async for group in _searches_by_criteria(self.deps, latest):
            query, stored = group[0].query, group[0].filter
            try:
                wanted = matching_filter(filter_from_json(stored), now, ids)
            except (ValidationFailed, ValueError) as err:  # a taxonomy or enum since removed
                log.warning("saved search %s cannot be matched: %s", group[0].id, err)
                continue
            answer = await index.search(
                SearchRequest(text=query, filter=wanted, sort=AuctionSort.RELEVANCE, limit=len(ids))
            )
            for auction_id in answer.ids:
                listing = by_id.get(auction_id)
                if listing is None:
                    continue
                for saved in group:
                    if (
                        saved.created_at <= listing.published_at
                        and saved.user_id != listing.seller_id
                    ):
                        notes.append(
                            NewNotification(
                                user_id=saved.user_id,
                                kind=KIND,
                                message=f'A new listing matches your saved search "{saved.name}".',
                                auction_id=auction_id,
                                dedupe_key=dedupe_key(saved.id, auction_id),
                                created_at=now,
                            )
                        )
        return notes

    async def run(self) -> None:
        while not self.stopping.is_set:
            took = 0
            try:
                took = await self.match_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise
                log.exception("saved-search matching failed; retrying")
            if took < self.batch:
                await self.stopping.sleep(self.interval)


async def _searches_by_criteria(
    deps: Deps, created_until: datetime
) -> AsyncIterator[list[SavedSearch]]:
    """The saved searches made by `created_until`, in groups of equal query and filter
    (one index search serves a whole group), read a page at a time."""
    after: uuid.UUID | None = None
    while True:
        query = select(SavedSearch).where(col(SavedSearch.created_at) <= created_until)
        if after is not None:
            query = query.where(col(SavedSearch.id) > after)
        async with deps.uow() as uow:
            page = list(
                (
                    await uow.session.exec(
                        query.order_by(col(SavedSearch.id)).limit(_SEARCHES_PAGE)
                    )
                ).all()
            )
        if not page:
            return
        groups: dict[tuple[str | None, str], list[SavedSearch]] = defaultdict(list)
        for saved in page:
            groups[(saved.query, _canonical(saved.filter))].append(saved)
        for group in groups.values():
            yield group
        if len(page) < _SEARCHES_PAGE:
            return
        after = page[-1].id


def _canonical(data: dict[str, Any]) -> str:
    return repr(sorted(data.items()))
