"""A request id for every HTTP request and WebSocket connection, in its logs and its answer.

asgi-correlation-id's middleware takes the client's (or a proxy's) `X-Request-ID` when it
is a plausible id, else makes one (32 hex digits), keeps it in a context variable for the
request's logs (adapters/logging_setup.py) and returns it in the `X-Request-ID` header of
the response. This subclass:

- accepts any id of 1-64 letters, digits and `-_.:` (ids of load balancers and tracing
  systems, not only UUIDs): an id the client chose can then neither forge a log line
  (no line breaks, quotes or escapes) nor fill the log;
- also returns the id in the WebSocket handshake's answer (`websocket.accept`);
- starts every request and connection with no structlog context bound: nothing a
  previous request bound on the same task (a test client, a server that reuses the
  task) leaks into its lines.

Each WebSocket operation's lines also carry its `operation_id` (schema/live_delivery.py).
"""

from __future__ import annotations

import re

import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from asgi_correlation_id.context import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def valid_request_id(value: str) -> bool:
    """Whether an incoming X-Request-ID may be kept: 1-64 of `A-Za-z0-9._:-`."""
    return _VALID.fullmatch(value) is not None


def current_request_id() -> str | None:
    """The id of the request or connection being served, if any."""
    return correlation_id.get()


class RequestIdMiddleware(CorrelationIdMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, header_name=HEADER, validator=valid_request_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        structlog.contextvars.clear_contextvars()
        if scope["type"] == "http":
            await super().__call__(scope, receive, send)
            return

        async def accept_with_id(message: Message) -> None:
            request_id = correlation_id.get()
            if message["type"] == "websocket.accept" and request_id:
                header = (HEADER.lower().encode(), request_id.encode())
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await super().__call__(scope, receive, accept_with_id)
