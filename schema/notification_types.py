"""A user's notifications (their inbox)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.connection import Connection, connection
from services.paging import Page
from storage import tables


@strawberry.type
class Notification:
    row: strawberry.Private[tables.Notification]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field
    def message(self) -> str:
        return self.row.message

    @strawberry.field
    def auction_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.row.auction_id)) if self.row.auction_id else None

    @strawberry.field
    def read(self) -> bool:
        return self.row.read_at is not None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


NotificationConnection = Connection[Notification]


def notification_connection(page: Page[tables.Notification]) -> NotificationConnection:
    return connection(page, lambda row: Notification(row=row))
