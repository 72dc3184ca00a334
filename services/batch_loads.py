"""Batch reads behind the per-request DataLoaders: one query per batch, answers in the
order of the keys asked (DataLoader's contract)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import SQLModel, col, select

from services.deps import Deps

Row = TypeVar("Row", bound=SQLModel)


async def one_per_key(
    deps: Deps, model: type[Row], field: str, keys: Sequence[uuid.UUID]
) -> list[Row | None]:
    """The row whose `field` equals each key (None where there is none); `field` is unique."""
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(select(model).where(col(getattr(model, field)).in_(keys)))
        ).all()
    found = {getattr(row, field): row for row in rows}
    return [found.get(key) for key in keys]


async def all_per_key(
    deps: Deps, model: type[Row], field: str, keys: Sequence[uuid.UUID], *order_by: Any
) -> list[list[Row]]:
    """The rows whose `field` equals each key, in `order_by` order (empty where none)."""
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(model).where(col(getattr(model, field)).in_(keys)).order_by(*order_by)
            )
        ).all()
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, field)].append(row)
    return [grouped.get(key, []) for key in keys]
