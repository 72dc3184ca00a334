"""A user's notifications (their inbox)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.connection import Connection, connection
from schema.errors import UserError
from services.paging import Page
from storage import tables


@strawberry.type
class Notification:
    row: strawberry.Private[tables.Notification]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(
        description=(
            "1, 2, ... per user, without gaps: myNotifications(sinceSequence:) resumes after it."
        )
    )
    def sequence(self) -> int:
        return self.row.seq

    @strawberry.field(
        description="A stable code: OUTBID, AUCTION_WON, ... (docs/notifications.md)."
    )
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


@strawberry.type(description="Whether notifications of one kind are also sent by email.")
class NotificationPreference:
    kind: str
    email: bool


@strawberry.input
class NotificationPreferenceInput:
    kind: str = strawberry.field(description="A notification kind (docs/notifications.md).")
    email: bool


@strawberry.type
class NotificationPreferencesPayload:
    preferences: list[NotificationPreference] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> NotificationPreferencesPayload:
        return cls(errors=[error])


def preference_list(choices: dict[str, bool]) -> list[NotificationPreference]:
    return [NotificationPreference(kind=k, email=v) for k, v in choices.items()]


NotificationConnection = Connection[Notification]


def notification_connection(page: Page[tables.Notification]) -> NotificationConnection:
    return connection(page, lambda row: Notification(row=row))
