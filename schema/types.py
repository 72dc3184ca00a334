"""An index of the object types, which live in one module per feature.

New code imports from the feature module (`schema.auction_types`, `schema.user_types`, …);
this index keeps `from schema.types import X` working for code written before the split.
"""

from __future__ import annotations

from schema.auction_types import (
    Auction,
    AuctionConnection,
    Bid,
    BidConnection,
    auction_connection,
    bid_connection,
)
from schema.bid_result_types import BidAccepted, BidRejected, PlaceBidResult
from schema.connection import Connection, Edge, PageInfo
from schema.discovery_types import FacetCount, SearchResult
from schema.event_types import AuctionEvent
from schema.item_types import Item
from schema.notification_types import Notification, NotificationConnection
from schema.settlement_types import Dispute, Transaction, TransactionConnection
from schema.user_types import User, load_user
from schema.viewer_types import Address, Viewer

__all__ = [
    "Address",
    "Auction",
    "AuctionConnection",
    "AuctionEvent",
    "Bid",
    "BidAccepted",
    "BidConnection",
    "BidRejected",
    "Connection",
    "Dispute",
    "Edge",
    "FacetCount",
    "Item",
    "Notification",
    "NotificationConnection",
    "PageInfo",
    "PlaceBidResult",
    "SearchResult",
    "Transaction",
    "TransactionConnection",
    "User",
    "Viewer",
    "auction_connection",
    "bid_connection",
    "load_user",
]
