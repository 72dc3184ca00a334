"""Trending: activity (bids, watches, views) feeds a time-decayed score per auction, read
back by `trendingAuctions` (domain/discovery.py holds the decay; adapters/trending_redis.py
keeps the scores).

Activity is recorded off the bid path: bids once the persister has committed them
(realtime/persister.py calls `Activity.persisted`), watches after `watchAuction` commits,
views from the `auction(id)` query, each viewer (user, else client address) counted once
per auction within GAVEL_TRENDING_VIEW_DEDUPE_SECONDS. A failure to record is logged and
never fails the request or the persister.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Protocol

from sqlalchemy import text
from sqlmodel import col, select

from domain.categories import check_category, subtree
from domain.discovery import Activity, TrendingPolicy, category_chain
from domain.enums import AuctionStatus
from domain.events import AnyEvent, BidAccepted
from services.deps import Deps
from services.paging import check_first
from storage.tables import Auction, Item, User

log = logging.getLogger("gavel.trending")
LIVE = (AuctionStatus.SCHEDULED.value, AuctionStatus.ACTIVE.value)
CATEGORY_CACHE_SIZE = 10_000
READ_ROUNDS = 4  # chunks of candidates read before giving up on filling a page
# A warm start reads this many half-lives of history (older activity weighs < 1/16).
WARM_START_HALF_LIVES = 4
WARM_START_AUCTIONS = 10_000


class TrendingStore(Protocol):
    """Where the scores live (adapters/trending_redis.py `RedisTrending`)."""

    policy: TrendingPolicy

    async def record(
        self,
        auction_id: uuid.UUID,
        categories: Sequence[str],
        weight: float,
        now: float,
        *,
        dedupe: str | None = None,
        recent_of: uuid.UUID | None = None,
    ) -> bool: ...

    async def top(self, category: str | None, start: int, count: int) -> list[uuid.UUID]: ...

    async def forget(
        self, auction_ids: Sequence[uuid.UUID], categories: Sequence[str], *, overall: bool = True
    ) -> None: ...

    async def recent_views(self, user_id: uuid.UUID, count: int) -> list[uuid.UUID]: ...

    async def claim_warm_start(self, ttl_seconds: int) -> bool: ...


class ActivityRecorder:
    """Turns what happens to auctions into trending activity (the module's docstring)."""

    def __init__(self, store: TrendingStore, deps: Deps) -> None:
        self.store = store
        self.deps = deps
        # Auction -> category path; a category changes only while SCHEDULED, and a stale
        # one is caught when a category's list is read (`trending_auctions` checks).
        self._categories: OrderedDict[uuid.UUID, str] = OrderedDict()

    def _now(self) -> float:
        return self.deps.clock().timestamp()

    async def categories(self, auction_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Each auction's category path (those it knows of), one query for the unknown."""
        found = {a: self._categories[a] for a in auction_ids if a in self._categories}
        missing = [a for a in auction_ids if a not in found]
        if missing:
            async with self.deps.uow() as uow:
                rows = await uow.session.exec(
                    select(Auction.id, Item.category)
                    .join(Item, col(Item.id) == Auction.item_id)
                    .where(col(Auction.id).in_(missing))
                )
                found.update({auction_id: category for auction_id, category in rows})
        for auction_id, category in found.items():
            self._categories[auction_id] = category
            self._categories.move_to_end(auction_id)
        while len(self._categories) > CATEGORY_CACHE_SIZE:
            self._categories.popitem(last=False)
        return found

    async def persisted(self, committed: Sequence[tuple[uuid.UUID, Sequence[AnyEvent]]]) -> None:
        """The persister's commit listener (realtime/persister.py `after_commit`)."""
        bids = {
            auction_id: count
            for auction_id, events in committed
            if (count := sum(isinstance(e, BidAccepted) for e in events))
        }
        finished = {auction_id for auction_id, events in committed if any(e.final for e in events)}
        await self.bids_persisted(bids, finished)

    async def bids_persisted(
        self, bids: Mapping[uuid.UUID, int], finished: Collection[uuid.UUID]
    ) -> None:
        """The persister committed `bids` (accepted bids per auction) and the end or
        cancellation of `finished`: score the first, drop the second from every list."""
        try:
            known = await self.categories({*bids, *finished})
            weight = self.store.policy.weight(Activity.BID)
            now = self._now()
            # One round trip per auction, sent together.
            await asyncio.gather(
                *(
                    self.store.record(a, category_chain(known[a]), weight * count, now)
                    for a, count in bids.items()
                    if a not in finished and a in known
                ),
                *(self.store.forget([a], category_chain(known[a])) for a in finished if a in known),
            )
            for auction_id in finished:
                self._categories.pop(auction_id, None)
        except Exception:
            log.exception("trending: persisted bids not recorded")

    async def watched(self, auction: Auction, user: User) -> None:
        """A user started watching a live auction (once per user and dedupe window)."""
        await self._count(auction, Activity.WATCH, f"watch:{auction.id}:{user.id}", None, user)

    async def viewed(self, auction: Auction, viewer: User | None, address: str | None) -> None:
        """Someone opened a live auction: counted once per viewer (the user, else the
        client address) and dedupe window; a signed-in viewer's recent views are kept for
        their recommendations."""
        who = f"u:{viewer.id}" if viewer is not None else f"ip:{address}" if address else None
        if who is None:
            return
        recent = viewer.id if viewer is not None else None
        await self._count(auction, Activity.VIEW, f"view:{auction.id}:{who}", recent, viewer)

    async def _count(
        self,
        auction: Auction,
        activity: Activity,
        dedupe: str,
        recent_of: uuid.UUID | None,
        actor: User | None,
    ) -> None:
        # The seller's own interest is not the public's.
        if auction.status not in LIVE or (actor is not None and actor.id == auction.seller_id):
            return
        try:
            category = (await self.categories([auction.id])).get(auction.id)
            if category is None:
                return
            await self.store.record(
                auction.id,
                category_chain(category),
                self.store.policy.weight(activity),
                self._now(),
                dedupe=dedupe,
                recent_of=recent_of,
            )
        except Exception:
            log.exception("trending: %s of %s not recorded", activity.value, auction.id)

    async def warm_start_once(self) -> None:
        """`warm_start` as a background task of the app: a failure is logged, no more."""
        try:
            await self.warm_start()
        except Exception:
            log.exception("trending: warm start failed; scores build up from new activity")

    async def warm_start(self) -> int:
        """Rebuild the scores of bids and watches from PostgreSQL when Redis has none (a
        new or emptied Redis: the demo's seeded history, a lost cache); views are not
        stored there and start afresh. One process does it (the others see the claim).
        Returns how many auctions were scored."""
        policy = self.store.policy
        horizon = WARM_START_HALF_LIVES * policy.half_life_seconds
        if not await self.store.claim_warm_start(int(horizon)):
            return 0
        now = self.deps.clock()
        async with self.deps.uow() as uow:
            connection = await uow.session.connection()
            rows = (
                await connection.execute(
                    text(_WARM_START),
                    {
                        "now": now,
                        "since": now - timedelta(seconds=horizon),
                        "half_life": policy.half_life_seconds,
                        "bid": policy.bid_weight,
                        "watch": policy.watch_weight,
                        "limit": WARM_START_AUCTIONS,
                    },
                )
            ).all()
        for auction_id, category, weight in rows:
            # The decayed sum as of now, recorded now: the same score as if each bid
            # and watch had been recorded when it happened.
            await self.store.record(auction_id, category_chain(category), weight, now.timestamp())
        log.info("trending: %d auctions scored from the stored history", len(rows))
        return len(rows)


# Each persisted bid and watch of a live auction in the horizon, decayed to now.
_WARM_START = """
SELECT a.id, i.category, sum(w.weight * power(2, -extract(epoch FROM (:now - w.at)) / :half_life))
FROM (
    SELECT auction_id, placed_at AS at, CAST(:bid AS float8) AS weight FROM bids
    WHERE voided_at IS NULL AND placed_at > :since
    UNION ALL
    SELECT auction_id, created_at, CAST(:watch AS float8) FROM watchlist WHERE created_at > :since
) w
JOIN auctions a ON a.id = w.auction_id JOIN items i ON i.id = a.item_id
WHERE a.status IN ('SCHEDULED', 'ACTIVE') AND w.at <= :now
GROUP BY a.id, i.category
ORDER BY 3 DESC
LIMIT :limit
"""


async def trending_auctions(
    deps: Deps, category: str | None, first: int | None, max_page: int
) -> list[Auction]:
    """The `first` (default 10, at most the page limit: INVALID_PAGE_SIZE) SCHEDULED or
    ACTIVE auctions with the highest trending score, in `category`'s subtree if given
    (UNKNOWN_CATEGORY). Ended, cancelled or re-categorised auctions met on the way are
    removed from the list read. Empty when no activity was recorded (or no store)."""
    size = check_first(first, max_page, default=10)
    slug = check_category(category) if category is not None else None
    store = deps.activity.store if deps.activity is not None else None
    if store is None or size == 0:
        return []
    allowed = set(subtree(slug)) if slug is not None else None
    chosen: list[Auction] = []
    chunk = max(size * 2, 20)
    start = 0
    for _ in range(READ_ROUNDS):
        ids = await store.top(slug, start, chunk)
        if not ids:
            break
        start += len(ids)
        rows = await _live_rows(deps, ids)
        gone = [a for a in ids if a not in rows]
        moved = [a for a in rows if allowed is not None and rows[a][1] not in allowed]
        if gone:
            await store.forget(gone, [slug] if slug is not None else [])
        if moved and slug is not None:
            await store.forget(moved, [slug], overall=False)
        chosen.extend(rows[a][0] for a in ids if a in rows and a not in moved)
        if len(chosen) >= size or len(ids) < chunk:
            break
    return chosen[:size]


async def _live_rows(deps: Deps, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[Auction, str]]:
    async with deps.uow() as uow:
        rows = await uow.session.exec(
            select(Auction, Item.category)
            .join(Item, col(Item.id) == Auction.item_id)
            .where(col(Auction.id).in_(ids), col(Auction.status).in_(LIVE))
        )
        return {auction.id: (auction, category) for auction, category in rows}
