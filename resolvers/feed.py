"""`auctionFeed(category)`: newly published and ending-soon auctions of a category's
subtree, live (realtime/auction_feed.py; docs/search.md "Category feed")."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from domain.categories import subtree
from domain.enums import AuctionStatus
from realtime.auction_feed import FeedClosed
from realtime.stream import ServerShuttingDown, SubscriberTooSlow
from schema.auction_types import Auction
from schema.context import Ctx


async def auction_feed(info: Ctx, category: str | None = None) -> AsyncGenerator[Auction]:
    """Each auction of `category`'s subtree (None: every category) as it is published and
    again as it enters the ending-soon window; live only, nothing replayed. Errors:
    UNKNOWN_CATEGORY; SLOW_CONSUMER (fell behind: subscribe again); SHUTTING_DOWN."""
    categories = frozenset(subtree(category)) if category is not None else None
    feed = info.context.deps.auction_feed
    if feed is None:
        raise RuntimeError("auctionFeed needs the composition root's feed")
    with feed.subscribe(categories) as subscriber:
        while True:
            try:
                _event, row = await subscriber.next()
            except FeedClosed as closed:
                if closed.slow:
                    raise SubscriberTooSlow(
                        "auctionFeed fell behind and was cut off; subscribe again (live "
                        "only: what came meanwhile is not replayed)"
                    ) from None
                raise ServerShuttingDown("this server is shutting down; subscribe again") from None
            if row is not None and row.status != AuctionStatus.DRAFT.value:
                yield Auction(row=row)
