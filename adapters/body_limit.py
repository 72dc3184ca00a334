"""ASGI middleware capping what a client may send: HTTP bodies and WebSocket messages.

An HTTP body over the limit is refused with 413 before it is parsed. A WebSocket message
over the same limit closes the socket with 1009 ("message too big", RFC 6455) before the
app sees it. uvicorn is also started with `--ws-max-size` set to the limit
(devservers/app_server.py), which refuses such a frame before it is even buffered; this
check holds wherever the app is served from.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


CLOSE_TOO_BIG = 1009


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # chunked bodies declare no length
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes
        closed = False

        async def capped_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive" and _ws_size(message, limit) > limit:
                closed = True
                await send(
                    {"type": "websocket.close", "code": CLOSE_TOO_BIG, "reason": "message too big"}
                )
                # The app ends its session as if the client had gone away.
                return {"type": "websocket.disconnect", "code": CLOSE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            if not closed:  # the socket is closed: whatever the app still says is dropped
                await send(message)

        await self.app(scope, capped_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        # Shaped as a GraphQL error, so GraphQL clients can read it like any other refusal.
        error = {
            "message": f"request body over {self.max_bytes} bytes",
            "extensions": {"code": "REQUEST_TOO_LARGE"},
        }
        body = orjson.dumps({"errors": [error]})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _ws_size(message: Message, limit: int) -> int:
    """The message's size in bytes; text is encoded only when it might be over `limit`."""
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text = message.get("text") or ""
    return len(text) if len(text) * 4 <= limit else len(text.encode())
