"""The strawberry ASGI app: authenticates each request and builds its context."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from domain.errors import DomainError
from schema.context import GavelContext, Loaders
from services import accounts
from services.deps import Deps


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


class GavelGraphQL(GraphQL[GavelContext, None]):
    def __init__(self, schema: Any, deps: Deps, *, max_page: int, **kwargs: Any) -> None:
        super().__init__(schema, multipart_uploads_enabled=True, **kwargs)
        self.deps = deps
        self.max_page = max_page

    async def get_context(self, request: Request | WebSocket, response: Any) -> GavelContext:
        ctx = GavelContext(
            deps=self.deps,
            loaders=Loaders.create(self.deps),
            max_page=self.max_page,
            request=request,
            response=response,
        )
        token = bearer(request.headers.get("authorization"))
        if token is not None:
            await self.authenticate(ctx, token)
        return ctx

    async def authenticate(self, ctx: GavelContext, token: str) -> None:
        if not token:
            ctx.auth_error = ("INVALID_TOKEN", "the Authorization header must be 'Bearer <token>'")
            return
        try:
            ctx.viewer = await accounts.user_for_access_token(self.deps, token)
        except DomainError as err:
            ctx.auth_error = (err.code, err.message)
