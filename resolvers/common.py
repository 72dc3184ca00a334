"""Small helpers every resolver module shares."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from adapters.client_address import client_ip as _client_ip
from domain.errors import DomainError, NotAuthenticated, ValidationFailed
from schema.context import Ctx
from schema.errors import UserError
from storage.tables import User

P = TypeVar("P")


def parse_id(value: str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed(
            f"{value!r} is not a valid id", code="INVALID_ID", field=field
        ) from None


def viewer(info: Ctx) -> User:
    """The logged-in user; fields using this also declare IsAuthenticated."""
    user = info.context.viewer
    if user is None:
        raise NotAuthenticated("log in first")
    return user


def client_ip(info: Ctx) -> str | None:
    """The client's address (for rate limits), over HTTP and WebSocket alike."""
    request = info.context.request
    scope = getattr(request, "scope", None)
    return _client_ip(scope, info.context.deps.trusted_proxies) if scope is not None else None


async def as_payload(failed: Callable[[UserError], P], action: Callable[[], Awaitable[P]]) -> P:
    """Run a mutation; an expected failure becomes the payload's `errors`."""
    try:
        return await action()
    except DomainError as err:
        return failed(UserError.of(err))
