"""ASGI middleware refusing GraphQL requests a browser could send cross-site unchecked.

A browser sends a POST to another site without asking it first (no CORS preflight) when
its Content-Type is one of the three "simple" ones, `application/x-www-form-urlencoded`,
`multipart/form-data` or `text/plain` (or absent), and it carries no non-safelisted
header. Such a request runs on the server even though the page cannot read the answer:
a foreign page could register accounts or upload listings from its visitors' browsers.
Following the GraphQL multipart request spec's advice (and Apollo's CSRF prevention),
a POST to a guarded path must either be `application/json`, which forces a preflight
that Gavel never answers with CORS approval, or carry a non-empty preflight-forcing
header: `Apollo-Require-Preflight`, `X-Apollo-Operation-Name`, `GraphQL-Preflight` or
`X-Requested-With`. Any other body type is refused as well: the GraphQL endpoint reads
only JSON and, for uploads, multipart.

GET is not guarded here: strawberry runs only queries over GET (a mutation is refused,
answered as JSON by adapters/json_errors.py), and queries change nothing. Refusals are
JSON GraphQL errors: 400 `CSRF_PREFLIGHT_REQUIRED`, 415 `UNSUPPORTED_CONTENT_TYPE`.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

PREFLIGHT_HEADERS = (
    b"apollo-require-preflight",
    b"x-apollo-operation-name",
    b"graphql-preflight",
    b"x-requested-with",
)
JSON = b"application/json"
MULTIPART = b"multipart/form-data"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def content_type_essence(value: bytes) -> bytes:
    """`type/subtype` of a Content-Type value, lowercased, parameters dropped."""
    return value.split(b";", 1)[0].strip().lower()


class CsrfGuard:
    def __init__(self, app: ASGIApp, paths: tuple[str, ...] = ("/graphql",)) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in _SAFE_METHODS
            or scope["path"] not in self.paths
        ):
            await self.app(scope, receive, send)
            return
        types: list[bytes] = []
        preflighted = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                types.append(content_type_essence(value))
            elif name in PREFLIGHT_HEADERS and value.strip():
                preflighted = True
        # Several Content-Type headers: servers disagree on which one counts, so none is
        # trusted to be JSON.
        kind = types[0] if len(types) == 1 else b""
        if kind == JSON:
            await self.app(scope, receive, send)
        elif not preflighted:
            await _refuse(
                send,
                400,
                "CSRF_PREFLIGHT_REQUIRED",
                "this request could come from another site: send it as application/json, "
                "or add a non-empty Apollo-Require-Preflight header (file uploads)",
            )
        elif kind == MULTIPART:
            await self.app(scope, receive, send)
        else:
            await _refuse(
                send,
                415,
                "UNSUPPORTED_CONTENT_TYPE",
                "send GraphQL requests as application/json (or multipart/form-data uploads)",
            )


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
