"""`recommendations` / `recommendedAuctions`: auctions for the viewer, each with its reason
(domain/discovery.py; docs/search.md "Recommendations").

In priority order: co-bidding ("bidders on X also bid on this", from the viewer's bids),
similar items (same category as what the viewer bid on, watched or viewed, closest by
title words), then trending, then popular. Every pick is a live (SCHEDULED or ACTIVE)
auction that is not the viewer's own listing nor one they already bid on, watch or
recently viewed, listed once.
Each reason is derived from the viewer's own activity only. An anonymous viewer gets the
trending and popular picks (no personal data is involved).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from domain.discovery import Pick, RecommendationReason, SeedSource, merge_picks
from services.deps import Deps
from services.paging import check_first
from services.search import recommendation_queries as q
from services.search.trending import LIVE, trending_auctions
from storage.tables import Auction, User
from storage.uow import UnitOfWork

SEEDS = 10  # the viewer's latest auctions (viewed, watched, bid on) similar items start from
BID_HISTORY = 1000  # the viewer's bid auctions excluded (and the latest used as seeds)


@dataclass(frozen=True, slots=True)
class Recommendation:
    auction: Auction
    reason: RecommendationReason
    explanation: str


async def recommend(
    deps: Deps, viewer: User | None, first: int | None, max_page: int
) -> list[Recommendation]:
    """Up to `first` (default 10, at most the page limit: INVALID_PAGE_SIZE) picks."""
    size = check_first(first, max_page, default=10)
    if size == 0:
        return []
    now = deps.clock()
    personal: list[Sequence[Pick]] = []
    # Already known to the viewer: what they bid on, watch or recently viewed.
    known: list[uuid.UUID] = []
    if viewer is not None:
        viewed = (
            await deps.activity.store.recent_views(viewer.id, SEEDS)
            if deps.activity is not None
            else []
        )
        async with deps.uow() as uow:
            bid_on = await q.bid_auctions(uow, viewer.id, BID_HISTORY)
            co = await q.co_bidding(
                uow, viewer.id, now, limit=size, min_bidders=deps.recommend_min_co_bidders
            )
            watched = await q.watched(uow, viewer.id, SEEDS)
            known = [*bid_on, *watched, *viewed]
            seeds = _seeds(viewed, watched, bid_on)
            similar = await q.similar_items(uow, viewer.id, seeds, known, now, limit=size)
        personal = [co, similar]
    viewer_id = viewer.id if viewer is not None else None
    hot = await trending_auctions(deps, None, min(size * 2, max_page), max_page)
    trending = [Pick(a.id, RecommendationReason.TRENDING) for a in hot if a.seller_id != viewer_id]
    picks = merge_picks([*personal, trending], known, size)
    async with deps.uow() as uow:
        if len(picks) < size:
            taken = [*known, *(p.auction_id for p in picks)]
            fill = await q.popular(uow, viewer_id, taken, now, limit=size - len(picks))
            picks = merge_picks([picks, fill], known, size)
        rows = await _live(uow, [p.auction_id for p in picks])
    return [
        Recommendation(rows[p.auction_id], p.reason, p.explanation)
        for p in picks
        if p.auction_id in rows
    ]


def _seeds(
    viewed: Sequence[uuid.UUID], watched: Sequence[uuid.UUID], bid_on: Sequence[uuid.UUID]
) -> list[q.Seed]:
    """The viewer's latest interests, one seed per auction: views, then watches, then bids."""
    seeds: dict[uuid.UUID, q.Seed] = {}
    for ids, source in (
        (viewed, SeedSource.VIEW),
        (watched, SeedSource.WATCH),
        (bid_on[:SEEDS], SeedSource.BID),
    ):
        for auction_id in ids:
            seeds.setdefault(auction_id, q.Seed(auction_id, source))
    return list(seeds.values())[:SEEDS]


async def _live(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Auction]:
    if not ids:
        return {}
    rows = await uow.session.exec(
        select(Auction).where(col(Auction.id).in_(ids), col(Auction.status).in_(LIVE))
    )
    return {a.id: a for a in rows}
