"""The admins' reads: the fraud-flag queue, user search, and the audit log
(docs/admin-api.md). Admins only (FORBIDDEN otherwise), paged by keyset cursors:
INVALID_CURSOR for a cursor we did not issue, INVALID_PAGE_SIZE outside 0-100.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select

from domain.enums import FraudFlagStatus
from domain.errors import ValidationFailed
from domain.text import check_text
from services.deps import Deps
from services.moderation import require_admin
from services.paging import INT64, Page, check_first, newest_first
from storage.tables import AuditLog, FraudFlag, User

MAX_ADMIN_PAGE = 100
MAX_QUERY_CHARS = 254


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Exact matches; None: any."""

    action: str | None = None
    actor_id: uuid.UUID | None = None
    entity_type: str | None = None
    entity_id: str | None = None


async def list_fraud_flags(
    deps: Deps,
    viewer: User,
    status: FraudFlagStatus | None,
    user_id: uuid.UUID | None,
    first: int | None,
    after: str | None,
) -> Page[FraudFlag]:
    """Fraud flags newest first (created_at, id), of one status and/or one user if given."""
    require_admin(viewer)
    where: list[ColumnElement[bool]] = []
    if status is not None:
        where.append(col(FraudFlag.status) == status.value)
    if user_id is not None:
        where.append(col(FraudFlag.user_id) == user_id)
    return await newest_first(
        deps,
        select(FraudFlag).where(*where),
        FraudFlag,
        col(FraudFlag.created_at),
        first,
        after,
        MAX_ADMIN_PAGE,
        select(func.count()).select_from(FraudFlag).where(*where),
    )


async def search_users(
    deps: Deps, viewer: User, query: str | None, first: int | None, after: str | None
) -> Page[User]:
    """Accounts whose username or email starts with `query` (case-insensitive; all when
    empty), newest first (created_at, id)."""
    require_admin(viewer)
    check_first(first, MAX_ADMIN_PAGE)  # a bad page size is named before a bad query
    prefix = check_text((query or "").strip().lower(), "query")
    if len(prefix) > MAX_QUERY_CHARS:
        raise ValidationFailed(
            f"query is at most {MAX_QUERY_CHARS} characters", code="INVALID_INPUT", field="query"
        )
    where: list[ColumnElement[bool]] = []
    if prefix:
        pattern = _escape_like(prefix) + "%"
        where.append(
            or_(
                func.lower(col(User.username)).like(pattern, escape="\\"),
                col(User.email).like(pattern, escape="\\"),
            )
        )
    return await newest_first(
        deps,
        select(User).where(*where),
        User,
        col(User.created_at),
        first,
        after,
        MAX_ADMIN_PAGE,
        select(func.count()).select_from(User).where(*where),
    )


async def open_flag_counts(deps: Deps, user_ids: list[uuid.UUID]) -> list[int]:
    """How many OPEN fraud flags each user has (one query per batch)."""
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(col(FraudFlag.user_id), func.count())
                .where(
                    col(FraudFlag.user_id).in_(user_ids),
                    col(FraudFlag.status) == FraudFlagStatus.OPEN.value,
                )
                .group_by(col(FraudFlag.user_id))
            )
        ).all()
    counts = {user_id: int(n) for user_id, n in rows}
    return [counts.get(user_id, 0) for user_id in user_ids]


async def list_audit_log(
    deps: Deps, viewer: User, where: AuditFilter, first: int | None, after: str | None
) -> Page[AuditLog]:
    """Audit rows newest first (by id: the order they were written), matching `where`."""
    require_admin(viewer)
    size = check_first(first, MAX_ADMIN_PAGE)
    _check_audit_filter(where)
    clauses: list[ColumnElement[bool]] = []
    if where.action is not None:
        clauses.append(col(AuditLog.action) == where.action)
    if where.actor_id is not None:
        clauses.append(col(AuditLog.actor_id) == where.actor_id)
    if where.entity_type is not None:
        clauses.append(col(AuditLog.entity_type) == where.entity_type)
    if where.entity_id is not None:
        clauses.append(col(AuditLog.entity_id) == where.entity_id)
    query = select(AuditLog).where(*clauses)
    if after:
        query = query.where(col(AuditLog.id) < _audit_position(after))
    query = query.order_by(col(AuditLog.id).desc())
    async with deps.uow() as uow:
        rows = (await uow.session.exec(query.limit(size + 1))).all()
        total = (
            await uow.session.exec(select(func.count()).select_from(AuditLog).where(*clauses))
        ).one()
    shown = list(rows[:size])
    return Page(
        rows=shown,
        cursors=[_audit_cursor(row.id) for row in shown],
        has_next=len(rows) > size,
        total=total,
    )


def _check_audit_filter(where: AuditFilter) -> None:
    """INVALID_INPUT (field action, entityType or entityId) for a value over 254
    characters or holding NUL or control characters: PostgreSQL cannot compare NUL."""
    for name, value in (
        ("action", where.action),
        ("entityType", where.entity_type),
        ("entityId", where.entity_id),
    ):
        if value is None:
            continue
        check_text(value, name)
        if len(value) > MAX_QUERY_CHARS:
            raise ValidationFailed(f"{name} is at most {MAX_QUERY_CHARS} characters", field=name)


def _audit_cursor(row_id: int | None) -> str:
    return base64.urlsafe_b64encode(f"audit:{row_id}".encode()).decode().rstrip("=")


def _audit_position(cursor: str) -> int:
    """The id inside an audit cursor (audit rows have integer ids, not the UUIDs
    services/paging.py's cursors carry)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, number = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
        position = int(number)
        if kind != "audit" or not INT64[0] <= position <= INT64[1] or len(cursor) > 64:
            raise ValueError(cursor)
        return position
    except (ValueError, UnicodeError):
        raise ValidationFailed(
            "the cursor is malformed", code="INVALID_CURSOR", field="after"
        ) from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
