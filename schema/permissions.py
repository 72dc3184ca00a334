"""Declared permissions. They raise domain errors so the client sees a stable code."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.enums import Role
from domain.errors import Forbidden, NotAuthenticated
from schema.context import GavelContext


def _viewer(info: Info[GavelContext, Any]) -> Any:
    ctx = info.context
    if ctx.viewer is None:
        if ctx.auth_error is not None:
            code, message = ctx.auth_error
            raise NotAuthenticated(message, code=code)
        raise NotAuthenticated("log in first: send Authorization: Bearer <access token>")
    return ctx.viewer


class IsAuthenticated(BasePermission):
    def has_permission(self, source: Any, info: Info[GavelContext, Any], **kwargs: Any) -> bool:
        _viewer(info)
        return True


class IsAdmin(BasePermission):
    def has_permission(self, source: Any, info: Info[GavelContext, Any], **kwargs: Any) -> bool:
        if Role.ADMIN.value not in _viewer(info).roles:
            raise Forbidden("admins only")
        return True
