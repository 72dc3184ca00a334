"""ASGI middleware turning plain-text refusals of the GraphQL endpoint into JSON errors.

strawberry refuses some requests before GraphQL runs with a text/plain body (a mutation
over GET: 400 "mutations are not allowed when using GET"; no GraphiQL: 404; a body it
cannot parse: 400). A GraphQL client, GraphiQL included, cannot read those. Any 4xx
text/plain answer on a guarded path is re-sent as `{"errors": [{"message": <the text>,
"extensions": {"code": ...}}]}` with the same status; JSON answers pass untouched.
Codes: 400 `BAD_REQUEST`, 404 `NOT_FOUND`, 405 `METHOD_NOT_ALLOWED`, 413
`REQUEST_TOO_LARGE`, 415 `UNSUPPORTED_CONTENT_TYPE`, other 4xx `BAD_REQUEST`.
"""

from __future__ import annotations

import orjson
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_CONTENT_TYPE",
}
MAX_TEXT = 4096  # a refusal's text; anything longer is not one of these


class PlainErrorsAsJson:
    def __init__(self, app: ASGIApp, paths: tuple[str, ...] = ("/graphql",)) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the start of a plain-text refusal, until its body
        text = b""
        answered = False

        async def rewriting_send(message: Message) -> None:
            nonlocal held, text, answered
            if answered:
                return  # the rest of a refusal already answered as JSON
            if held is None and message["type"] == "http.response.start":
                status = message["status"]
                kind = dict(message.get("headers", ())).get(b"content-type", b"")
                if 400 <= status < 500 and kind.startswith(b"text/plain"):
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            text += message.get("body", b"")
            if message.get("more_body", False) and len(text) <= MAX_TEXT:
                return
            answered = True
            await _send_json(send, held, text.decode("utf-8", "replace")[:MAX_TEXT])

        await self.app(scope, receive, rewriting_send)


async def graphql_http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's handler of starlette's HTTPException (a route refusing a method: 405)
    on the guarded GraphQL path: the same JSON error shape and codes as above, where
    FastAPI would answer `{"detail": ...}`; elsewhere FastAPI's own answer."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path != "/graphql":
        return await http_exception_handler(request, exc)
    error = {
        "message": str(exc.detail),
        "extensions": {"code": CODES.get(exc.status_code, "BAD_REQUEST")},
    }
    return JSONResponse({"errors": [error]}, status_code=exc.status_code, headers=exc.headers)


async def _send_json(send: Send, start: Message, text: str) -> None:
    status = start["status"]
    error = {"message": text.strip(), "extensions": {"code": CODES.get(status, "BAD_REQUEST")}}
    body = orjson.dumps({"errors": [error]})
    headers = [
        (name, value)
        for name, value in start.get("headers", ())
        if name.lower() not in (b"content-type", b"content-length")
    ]
    headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
