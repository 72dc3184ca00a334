"""Keyset (cursor) pagination: stable under inserts, opaque to clients."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
from sqlalchemy import tuple_

from domain.errors import ValidationFailed

if TYPE_CHECKING:
    from services.deps import Deps

T = TypeVar("T")

# Cursors we issue are under 150 characters; a longer one is forged.
MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    cursors: list[str]
    has_next: bool
    total: int


def encode_cursor(key: Any, row_id: uuid.UUID) -> str:
    if isinstance(key, datetime):
        key = {"t": key.isoformat()}
    return base64.urlsafe_b64encode(orjson.dumps([key, str(row_id)])).decode().rstrip("=")


# Ranges of the columns cursors carry keys for; a cursor never holds a key outside its
# column's range unless it was forged, and PostgreSQL would fail on binding it.
INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)


def decode_cursor(
    cursor: str, key_type: type = object, key_range: tuple[int, int] = INT64
) -> tuple[Any, uuid.UUID]:
    """The (sort key, id) inside a cursor; `key_type` is what the current sort orders by
    (int or datetime). Integer keys must lie in `key_range`, times must carry an offset and
    be storable in UTC. Anything else: ValidationFailed(INVALID_CURSOR, field "after")."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        key, row_id = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if isinstance(key, dict):
            key = datetime.fromisoformat(key["t"])
            if key.tzinfo is None:
                raise ValueError("naive time")
            key = key.astimezone(UTC)  # OverflowError at the ends of the calendar
        if isinstance(key, bool) or not isinstance(key, key_type) or not isinstance(row_id, str):
            raise ValueError("bad key")
        if isinstance(key, int) and not key_range[0] <= key <= key_range[1]:
            raise ValueError("key out of range")
        return key, uuid.UUID(row_id)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        orjson.JSONDecodeError,
    ):
        raise ValidationFailed(
            "the cursor is malformed", code="INVALID_CURSOR", field="after"
        ) from None


def check_first(first: int | None, limit: int, default: int = 20) -> int:
    if first is None:
        return default
    if first < 0 or first > limit:
        raise ValidationFailed(
            f"first must be between 0 and {limit}", code="INVALID_PAGE_SIZE", field="first"
        )
    return first


def make_page(rows: Sequence[T], first: int, total: int, key_of: Any) -> Page[T]:
    shown = list(rows[:first])
    return Page(
        rows=shown,
        cursors=[encode_cursor(key_of(r), r.id) for r in shown],  # type: ignore[attr-defined]
        has_next=len(rows) > first,
        total=total,
    )


async def newest_first(
    deps: Deps,
    query: Any,
    model: Any,
    time_col: Any,
    first: int | None,
    after: str | None,
    max_page: int,
    count_query: Any,
) -> Page[Any]:
    """One page of `query`'s `model` rows, newest first by (`time_col`, id), with the
    keyset cursor of each row and `count_query`'s total. Raises ValidationFailed
    (INVALID_PAGE_SIZE: `first` outside 0..`max_page`; INVALID_CURSOR)."""
    size = check_first(first, max_page)
    if after:
        value, row_id = decode_cursor(after, datetime)
        query = query.where(tuple_(time_col, model.id) < (value, row_id))
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(query.order_by(time_col.desc(), model.id.desc()).limit(size + 1))
        ).all()
        total = (await uow.session.exec(count_query)).one()
    return make_page(rows, size, total, lambda r: getattr(r, time_col.key))
