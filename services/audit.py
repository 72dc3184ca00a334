"""Audit rows in one shape (issue 15 item 7; docs/admin-api.md "The audit log").

Every admin action and every money or bid state change outside the normal flow adds one
`AuditLog` row in the transaction that makes the change. Its `details` follow one
convention so admins can read any row the same way:

- `before` / `after`: the changed fields only, as they were and as they are now;
- `reason`: the admin's (or the system's) stated reason, where one applies;
- any other key: facts of the action (ids it touched, gateway messages, counts).

Values are stored as JSON: times as ISO 8601 strings, ids as strings, money as integer
minor units (never float). The table is append-only (migration 0007).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from storage.tables import AuditLog


def jsonable(value: Any) -> Any:
    """`value` as JSONB can store it: datetimes ISO 8601, UUIDs and enums as strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def audit_row(
    actor_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
    at: datetime | None = None,
    **facts: Any,
) -> AuditLog:
    """One audit row: `actor_id` None for the system (a worker, a webhook), `action` a
    snake_case or dotted verb, `details` per the module's convention (keys left out when
    they do not apply)."""
    details: dict[str, Any] = {}
    if before is not None:
        details["before"] = jsonable(before)
    if after is not None:
        details["after"] = jsonable(after)
    if reason is not None:
        details["reason"] = reason
    details.update({k: jsonable(v) for k, v in facts.items()})
    row = AuditLog(
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        details=details,
    )
    if at is not None:
        row.at = at
    return row


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `before` / `after` pair of the fields that differ between two snapshots."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def snapshot(
    row: Any, *, prefix: str = "", skip: tuple[str, ...] = ("updated_at",)
) -> dict[str, Any]:
    """A SQLModel row's columns as a plain dict (keys prefixed), for `changes`."""
    values: dict[str, Any] = row.model_dump()
    return {f"{prefix}{k}": v for k, v in values.items() if k not in skip}
