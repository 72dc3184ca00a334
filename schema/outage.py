"""How the transports answer a request that could not start because a dependency failed.

Errors during execution go through the error masking (schema/errors.py). These are the
failures before it: authenticating the request (the account state lives in Redis, with
PostgreSQL behind it). HTTP (plain, the compiled bid path, server-sent events) answers
503 with `Retry-After` and a JSON GraphQL error; a WebSocket's `connection_init` is
refused with close code 1013 ("try again later", RFC 6455) and the same error payload.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError

from services.unavailable import Unavailable

CLOSE_TRY_AGAIN_LATER = 1013


async def answer_http(send: Send, down: Unavailable) -> None:
    body = orjson.dumps(down.response_body())
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
                (b"retry-after", str(down.retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SocketUnavailable(ConnectionRejectionError):
    """Refuses a `connection_init` (either protocol) while the account state is unreachable."""

    close_code = CLOSE_TRY_AGAIN_LATER

    def __init__(self, down: Unavailable) -> None:
        super().__init__({"message": down.message, **down.extensions})
        self.reason = f"{down.code}: retry after {down.retry_after} s"


class OutageGuard:
    """Wraps the GraphQL ASGI app: an `Unavailable` raised before any response was sent
    (authentication, on the compiled bid path or in `get_context`) becomes the 503 answer.
    WebSockets refuse at `connection_init` instead (`SocketUnavailable`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Unavailable as down:
            if scope["type"] != "http":
                raise
            await answer_http(send, down)
