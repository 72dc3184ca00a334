"""Search documents from the source of record: one `SearchDocument` per auction.

The shown price follows domain/public_state.py, the same rules as the API's `Auction`
fields, so a search never filters or sorts on what the API would hide: an open sealed
auction's price is its public starting price, never a bid.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.enums import AuctionStatus, AuctionType, ItemCondition
from domain.money import CURRENCY_EXPONENTS
from domain.public_state import public_state_of
from services.search.port import SearchDocument, scaled_price
from storage.tables import Auction, Item


def document_of(auction: Auction, item: Item, now: datetime) -> SearchDocument | None:
    """The document of a stored auction, as of `now` (the Dutch clock); None for a
    draft, which is never searchable."""
    status = AuctionStatus(auction.status)
    if status is AuctionStatus.DRAFT:
        return None
    state = public_state_of(auction, None, now)
    price = state.current_price if state.current_price is not None else auction.starting_price
    return SearchDocument(
        auction_id=auction.id,
        title=item.title,
        description=item.description,
        category=item.category,
        condition=ItemCondition(item.condition),
        type=AuctionType(auction.type),
        status=status,
        seller_id=auction.seller_id,
        currency=auction.currency,
        price=price,
        price_scaled=scaled_price(price, CURRENCY_EXPONENTS[auction.currency]),
        bid_count=state.bid_count,
        reserve_met=state.reserve_met,
        has_buy_now=auction.buy_now_price is not None,
        featured=auction.featured,
        ends_at=state.ends_at,
        listed_at=auction.published_at or auction.created_at,
    )


async def load_documents(
    session: AsyncSession, auction_ids: Sequence[uuid.UUID], now: datetime
) -> tuple[list[SearchDocument], list[uuid.UUID]]:
    """The documents of `auction_ids` (one query), and the ids that have none: unknown
    auctions and drafts, which the index must not hold."""
    rows = (
        await session.exec(
            select(Auction, Item)
            .join(Item, col(Item.id) == Auction.item_id)
            .where(col(Auction.id).in_(list(auction_ids)))
        )
    ).all()
    documents: list[SearchDocument] = []
    for auction, item in rows:
        document = document_of(auction, item, now)
        if document is not None:
            documents.append(document)
    found = {d.auction_id for d in documents}
    return documents, [i for i in auction_ids if i not in found]
