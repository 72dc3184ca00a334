"""Saved searches' matching queue (services/search/saved_searches.py) and the category
feed's marks (realtime/auction_feed.py). The saved searches themselves are
`storage.tables.SavedSearch` (a table since the initial schema): a user's query plus
filter (JSON of the API filter's fields), matched against every listing published after
the search was saved.

- `saved_search_queue`: auctions that became public (left DRAFT) and wait to be matched.
  A trigger of migration 0013 fills it in the transaction that publishes, whoever
  publishes (API, admin, seeds); the matcher claims rows FOR UPDATE SKIP LOCKED and
  deletes them when matched, so every listing is matched once across processes.
- `auction_feed_marks`: the auctions already announced ENDING_SOON on `auctionFeed`;
  its primary key makes the announcement once per auction whichever process decides it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey
from sqlmodel import Field, SQLModel

from storage.columns import ts


class SavedSearchQueue(SQLModel, table=True):
    __tablename__ = "saved_search_queue"
    auction_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("auctions.id", ondelete="CASCADE")], primary_key=True
    )
    published_at: datetime = ts(index=True)


class AuctionFeedMark(SQLModel, table=True):
    __tablename__ = "auction_feed_marks"
    auction_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("auctions.id", ondelete="CASCADE")], primary_key=True
    )
    ending_soon_at: datetime = ts()
