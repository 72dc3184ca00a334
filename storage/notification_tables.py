"""The notifications' own table: each user's last notification sequence number.

`storage/notification_writer.py` increments a user's counter in the transaction that
adds their notifications; the row lock it takes orders those transactions, so per user
the commit order is the sequence order and a reader never sees seq 7 before seq 6.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey
from sqlmodel import Field, SQLModel


class NotificationCounter(SQLModel, table=True):
    __tablename__ = "notification_counters"
    user_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("users.id", ondelete="CASCADE")], primary_key=True
    )
    last_seq: int = Field(default=0, sa_type=BigInteger, nullable=False)
