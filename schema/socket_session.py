"""WebSockets of the GraphQL app (schema/app.py): their context, their adapter and their
authentication.

WebSockets (graphql-transport-ws and the legacy graphql-ws) authenticate with the
`connection_init` payload `{"authorization": "Bearer <token>"}` (or the upgrade request's
`Authorization` header); no payload, or none of that key, leaves the socket anonymous. A
refused token closes the socket with 4401 (invalid, expired, unknown account) or 4403
(banned account). The socket keeps its token, and every later operation re-checks the
account with it (`refresh_socket_viewer`, schema/socket_auth.py), with the same codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected

from domain.errors import DomainError
from schema.context import GavelContext
from schema.outage import SocketUnavailable
from schema.shared_events import shared_payload_text
from schema.socket_auth import SocketAuthRefused
from services import accounts
from services.deps import Deps
from services.unavailable import Unavailable

# Where `on_ws_connect` leaves the close code for a refused socket (in the ASGI scope).
CLOSE_KEY = "gavel.ws_close"
# Where `get_context` leaves an upgrade request's failed authentication for `on_ws_connect`.
UNAVAILABLE_KEY = "gavel.unavailable"
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


@dataclass
class SocketContext(GavelContext):
    """A WebSocket's context: one per socket. Strawberry stores the `connection_init`
    payload in `connection_params` (it checks for the attribute) before `on_ws_connect`."""

    connection_params: dict[str, Any] | None = None
    # The access token the socket authenticated with (connection_init, else the upgrade
    # request's header): every later operation re-checks the account with it.
    token: str | None = None


class SocketRejected(ConnectionRejectionError):
    def __init__(self, close_code: int, err: DomainError) -> None:
        super().__init__({"code": err.code, "message": err.message})
        self.close_code = close_code


class GavelSocket(ASGIWebSocketAdapter):
    """Strawberry closes a rejected socket with fixed codes (4403 on graphql-transport-ws,
    1011 on graphql-ws); this adapter substitutes the code `on_ws_connect` chose.

    A `next` (graphql-transport-ws) or `data` (graphql-ws) message whose payload is a
    shared event result is sent as the payload's text encoded once for all subscribers,
    wrapped in this subscriber's operation id (schema/shared_events.py)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        kind = message.get("type")
        if kind == "next" or kind == "data":
            text = shared_payload_text(message.get("payload"))
            if text is not None:
                operation = orjson.dumps(message["id"]).decode()
                try:
                    await self.ws.send_text(
                        f'{{"id":{operation},"type":"{kind}","payload":{text}}}'
                    )
                except WebSocketDisconnect as exc:
                    raise WebSocketDisconnected from exc
                return
        await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        chosen = self.ws.scope.get(CLOSE_KEY)
        if chosen is not None:
            code, reason = chosen
        await super().close(code, reason)


def _close_reason(err: DomainError) -> str:
    # A close frame's reason is at most 123 bytes.
    return f"{err.code}: {err.message}".encode()[:123].decode(errors="ignore")


class SocketAuthentication:
    """The GraphQL app's authentication hooks (strawberry calls them): each request's
    bearer token, and a socket's `connection_init` and later operations."""

    deps: Deps

    async def authenticate(self, ctx: GavelContext, token: str) -> None:
        if not token:
            ctx.auth_error = ("INVALID_TOKEN", "the Authorization header must be 'Bearer <token>'")
            return
        try:
            ctx.viewer = await accounts.user_for_access_token(self.deps, token)
        except DomainError as err:
            ctx.auth_error = (err.code, err.message)

    async def on_ws_connect(self, context: GavelContext) -> None:
        """`connection_init` on either protocol: authenticate the socket or refuse it."""
        params = getattr(context, "connection_params", None) or {}
        header = params.get("authorization", params.get("Authorization"))
        if header is None:
            down = context.extra.pop(UNAVAILABLE_KEY, None)
            if down is not None:
                self._refuse_unavailable(context, down)
            return  # anonymous (or authenticated by a header on the upgrade request)
        token = bearer(header) if isinstance(header, str) else ""
        if not token:
            self._refuse(
                context,
                CLOSE_UNAUTHORIZED,
                DomainError(
                    "connection_init authorization must be 'Bearer <token>'",
                    code="INVALID_TOKEN",
                ),
            )
        try:
            user = await accounts.user_for_access_token(self.deps, token)
        except DomainError as err:
            banned = err.code == "ACCOUNT_BANNED"
            self._refuse(context, CLOSE_FORBIDDEN if banned else CLOSE_UNAUTHORIZED, err)
        except Unavailable as down:
            self._refuse_unavailable(context, down)
        context.viewer = user
        context.auth_error = None
        if isinstance(context, SocketContext):
            context.token = token

    async def refresh_socket_viewer(self, context: GavelContext) -> None:
        """Before each operation on a socket (schema/socket_auth.py): read the socket's
        account again, through the path HTTP requests take, into `context.viewer`.

        Raises `SocketAuthRefused` (close 4403 for a banned account, 4401 for an expired
        token or an account that no longer exists; once refused, always refused) or
        `Unavailable`. An anonymous socket is left as it is."""
        chosen = context.request.scope.get(CLOSE_KEY)
        if chosen is not None:
            raise SocketAuthRefused(*chosen)
        token = getattr(context, "token", None)
        if token is None:
            return
        try:
            context.viewer = await accounts.user_for_access_token(self.deps, token)
        except DomainError as err:
            banned = err.code == "ACCOUNT_BANNED"
            close_code = CLOSE_FORBIDDEN if banned else CLOSE_UNAUTHORIZED
            context.viewer = None
            context.auth_error = (err.code, err.message)
            context.request.scope[CLOSE_KEY] = (close_code, _close_reason(err))
            raise SocketAuthRefused(close_code, _close_reason(err)) from None

    def _refuse(self, context: GavelContext, close_code: int, err: DomainError) -> NoReturn:
        context.viewer = None
        context.auth_error = (err.code, err.message)
        context.request.scope[CLOSE_KEY] = (close_code, _close_reason(err))
        raise SocketRejected(close_code, err)

    def _refuse_unavailable(self, context: GavelContext, down: Unavailable) -> NoReturn:
        context.viewer = None
        context.auth_error = (down.code, down.message)
        refusal = SocketUnavailable(down)
        context.request.scope[CLOSE_KEY] = (refusal.close_code, refusal.reason)
        raise refusal
