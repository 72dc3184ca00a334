"""Steps the listing page tests share: filling the listing form, reading what was stored."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from nicegui import Client, ui
from nicegui.testing.user import User
from PIL import Image
from sqlalchemy import text

from admin_ui.listing_fields import LOCAL_FORMAT


def field(user: User, name: str) -> Any:
    """The form's input for the domain field `name` (marked `field-<name>`), shown or not
    (`user.find` sees only visible elements; the other types' fields are hidden)."""
    assert user.client is not None
    (element,) = [e for e in user.client.elements.values() if f"field-{name}" in e._markers]
    return element


def shown(user: User, name: str) -> bool:
    """Whether the field `name` is shown (its box is: the form hides whole boxes)."""
    element = field(user, name)
    return bool(element.visible and element.parent_slot.parent.visible)


def client_of(user: User) -> Client:
    assert user.client is not None
    return user.client


def fill(user: User, **values: str) -> None:
    """Set form fields by their domain names (title="...", startingPrice="12.50")."""
    with client_of(user):
        for name, value in values.items():
            field(user, name).value = value


def local(delta: timedelta) -> str:
    """A `datetime-local` value `delta` from now, in UTC (the simulation's zone)."""
    return (datetime.now(UTC) + delta).strftime(LOCAL_FORMAT)


def png(width: int = 8, height: int = 6, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


async def stored(app: FastAPI, auction_id: str) -> dict[str, Any]:
    """The stored auction and item row, joined."""
    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT a.*, i.title, i.description, i.category, i.condition,"
                    " (SELECT count(*) FROM item_images m WHERE m.item_id = i.id) AS images"
                    " FROM auctions a JOIN items i ON i.id = a.item_id WHERE a.id = :id"
                ),
                {"id": auction_id},
            )
        ).one()
    return dict(row._mapping)


async def own_auctions(app: FastAPI, seller_id: str) -> list[dict[str, Any]]:
    async with app.state.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT a.id, a.status, a.type, i.title FROM auctions a JOIN items i"
                    " ON i.id = a.item_id WHERE a.seller_id = :s ORDER BY a.created_at"
                ),
                {"s": seller_id},
            )
        ).all()
    return [dict(r._mapping) for r in rows]


def table_rows(user: User) -> list[dict[str, Any]]:
    (table,) = user.find(kind=ui.table).elements
    return list(table.rows)
