"""The recommendations' reads from PostgreSQL: the viewer's own activity, co-bidding and
same-category similar items (services/search/recommendations.py puts them together).

Sealed auctions take no part in co-bidding, neither as the auction that links bidders
nor as a pick: who bids on a sealed auction is hidden until it ends, and "bidders on X
also bid on Y" would tell. They can still be picked as similar items or trending ones,
which say nothing about anyone's bids.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from domain.discovery import Pick, RecommendationReason, SeedSource
from storage.uow import UnitOfWork

_SEALED = "('SEALED_FIRST_PRICE','SEALED_SECOND_PRICE')"
_LIVE = "('SCHEDULED','ACTIVE')"


@dataclass(frozen=True, slots=True)
class Seed:
    """An auction the viewer met (bid on, watched, viewed): similar items start there."""

    auction_id: uuid.UUID
    source: SeedSource


async def _rows(uow: UnitOfWork, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    connection = await uow.session.connection()
    return (await connection.execute(text(sql), params)).all()


async def bid_auctions(uow: UnitOfWork, viewer_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    """Every auction the viewer has a bid on (voided ones too: a voided bid was still an
    interest), most recent bid first, at most `limit`."""
    rows = await _rows(
        uow,
        "SELECT auction_id FROM bids WHERE bidder_id = :viewer"
        " GROUP BY auction_id ORDER BY max(placed_at) DESC LIMIT :limit",
        {"viewer": viewer_id, "limit": limit},
    )
    return [r[0] for r in rows]


async def watched(uow: UnitOfWork, viewer_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    rows = await _rows(
        uow,
        "SELECT auction_id FROM watchlist WHERE user_id = :viewer"
        " ORDER BY created_at DESC LIMIT :limit",
        {"viewer": viewer_id, "limit": limit},
    )
    return [r[0] for r in rows]


async def own_listings_among(
    uow: UnitOfWork, viewer_id: uuid.UUID, auction_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not auction_ids:
        return set()
    rows = await _rows(
        uow,
        "SELECT id FROM auctions WHERE seller_id = :viewer AND id = ANY(:ids)",
        {"viewer": viewer_id, "ids": list(auction_ids)},
    )
    return {r[0] for r in rows}


_CO_BIDDING = f"""
WITH mine AS (
    SELECT b.auction_id, max(b.placed_at) AS last_at
    FROM bids b JOIN auctions a ON a.id = b.auction_id
    WHERE b.bidder_id = :viewer AND b.voided_at IS NULL AND a.type NOT IN {_SEALED}
    GROUP BY b.auction_id
    ORDER BY last_at DESC
    LIMIT :sources
), co AS (
    SELECT DISTINCT b.bidder_id, m.auction_id AS via, m.last_at
    FROM bids b JOIN mine m ON m.auction_id = b.auction_id
    WHERE b.bidder_id <> :viewer AND b.voided_at IS NULL
), picks AS (
    SELECT o.auction_id,
           count(DISTINCT o.bidder_id) AS bidders,
           max(o.placed_at) AS latest,
           (array_agg(co.via ORDER BY co.last_at DESC))[1] AS via
    FROM co
    JOIN bids o ON o.bidder_id = co.bidder_id AND o.voided_at IS NULL
    JOIN auctions t ON t.id = o.auction_id
    WHERE t.status IN {_LIVE} AND t.ends_at > :now AND t.seller_id <> :viewer
      AND t.type NOT IN {_SEALED}
      AND NOT EXISTS (
          SELECT 1 FROM bids v WHERE v.auction_id = o.auction_id AND v.bidder_id = :viewer
      )
    GROUP BY o.auction_id
    HAVING count(DISTINCT o.bidder_id) >= :min_bidders
)
SELECT p.auction_id, i.title
FROM picks p JOIN auctions va ON va.id = p.via JOIN items i ON i.id = va.item_id
ORDER BY p.bidders DESC, p.latest DESC, p.auction_id
LIMIT :limit
"""


async def co_bidding(
    uow: UnitOfWork,
    viewer_id: uuid.UUID,
    now: datetime,
    *,
    limit: int,
    min_bidders: int,
    sources: int = 50,
) -> list[Pick]:
    """ "Bidders on X also bid on this": live auctions the bidders of the viewer's latest
    `sources` (non-sealed) auctions also bid on, by how many of them did (then by how
    recently), each named after the viewer's most recent auction that led to it."""
    rows = await _rows(
        uow,
        _CO_BIDDING,
        {
            "viewer": viewer_id,
            "now": now,
            "sources": sources,
            "min_bidders": min_bidders,
            "limit": limit,
        },
    )
    return [Pick(r[0], RecommendationReason.CO_BIDDING, via_title=r[1]) for r in rows]


# Candidates share the seed's category, ranked by how many of the seed title's words
# their title has (an OR of its lexemes), then by the seed's rank among the viewer's.
_SIMILAR = f"""
WITH seeds AS (
    SELECT s.auction_id, s.ord, i.title, i.category
    FROM unnest(CAST(:seeds AS uuid[])) WITH ORDINALITY AS s(auction_id, ord)
    JOIN auctions a ON a.id = s.auction_id JOIN items i ON i.id = a.item_id
), scored AS (
    SELECT DISTINCT ON (c.id) c.id, s.ord, s.title AS via_title,
           ts_rank(
               to_tsvector('english', ci.title),
               CAST(replace(CAST(plainto_tsquery('english', s.title) AS text), '&', '|')
                    AS tsquery)
           ) AS rank
    FROM seeds s
    JOIN items ci ON ci.category = s.category
    JOIN auctions c ON c.item_id = ci.id
    WHERE c.status IN {_LIVE} AND c.ends_at > :now AND c.seller_id <> :viewer
      AND c.id <> ALL(CAST(:excluded AS uuid[]))
    ORDER BY c.id, rank DESC, s.ord
)
SELECT id, ord, via_title FROM scored ORDER BY rank DESC, ord, id LIMIT :limit
"""


async def similar_items(
    uow: UnitOfWork,
    viewer_id: uuid.UUID,
    seeds: Sequence[Seed],
    excluded: Sequence[uuid.UUID],
    now: datetime,
    *,
    limit: int,
) -> list[Pick]:
    """Live auctions in the same category as one of `seeds`, closest by title words."""
    if not seeds:
        return []
    rows = await _rows(
        uow,
        _SIMILAR,
        {
            "viewer": viewer_id,
            "seeds": [s.auction_id for s in seeds],
            "excluded": list(excluded),
            "now": now,
            "limit": limit,
        },
    )
    return [
        Pick(
            r[0],
            RecommendationReason.SIMILAR_ITEM,
            via_title=r[2],
            via_source=seeds[r[1] - 1].source,
        )
        for r in rows
    ]


async def popular(
    uow: UnitOfWork,
    viewer_id: uuid.UUID | None,
    excluded: Sequence[uuid.UUID],
    now: datetime,
    *,
    limit: int,
) -> list[Pick]:
    """Live auctions with the most bids, soonest ending first: when nothing trends yet."""
    rows = await _rows(
        uow,
        f"""
        SELECT a.id FROM auctions a
        WHERE a.status IN {_LIVE} AND a.ends_at > :now
          AND (CAST(:viewer AS uuid) IS NULL OR a.seller_id <> CAST(:viewer AS uuid))
          AND a.id <> ALL(CAST(:excluded AS uuid[]))
        ORDER BY a.bid_count DESC, a.ends_at, a.id
        LIMIT :limit
        """,
        {"viewer": viewer_id, "excluded": list(excluded), "now": now, "limit": limit},
    )
    return [Pick(r[0], RecommendationReason.TRENDING) for r in rows]
