"""The search index's change capture (services/search/indexer.py, docs/search.md
"Freshness and reindexing").

Triggers of migration 0011 fill both tables from every write to `auctions` and `items`
that a search document reads, whoever the writer is:

- `search_pending`: the auctions whose document must be rebuilt, one row each until an
  indexer claims it (`queued_at`: when the change was first queued, for the lag metric).
- `search_changes`: the last transaction that changed each auction (`xid`, a 64-bit
  transaction id), kept: a reindex re-queues every auction changed by a transaction its
  snapshot did not see (services/search/reindex.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from storage.columns import ts as _ts

# The trigger functions' notification channel: the indexers LISTEN on it.
SEARCH_CHANNEL = "gavel_search"


class SearchPending(SQLModel, table=True):
    __tablename__ = "search_pending"
    # Claims take the oldest first.
    __table_args__ = (Index("ix_search_pending_queued_at", "queued_at"),)
    # No foreign key: a deleted auction's id must still reach the indexer (to delete it).
    auction_id: uuid.UUID = Field(primary_key=True)
    queued_at: datetime = _ts()


class SearchChange(SQLModel, table=True):
    __tablename__ = "search_changes"
    auction_id: uuid.UUID = Field(primary_key=True)
    xid: int = Field(sa_type=BigInteger)  # pg_current_xact_id() of the latest change
